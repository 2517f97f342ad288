"""One-shot distillation: a student config plus a teacher pipeline -> a trained
student without the teacher in it (what `spacy-skd distill` runs).

The student config gets an skd_distiller in front of its pipeline whose students
are the components the teacher has by the same name: skd_* students with the
chosen method, spaCy's tagger/morphologizer/senter with token KD, spaCy's
parser/ner with silver ("hard") targets. spaCy's own `train` then trains it;
afterwards the inert distiller is removed from model-best and model-last
(INTERFACES.md section 6).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, Optional

import spacy
from spacy.cli.train import train as spacy_train
from spacy.util import load_config
from thinc.api import Config

from .saving import save_atomically

SKD_STUDENTS = ("skd_tagger", "skd_ner", "skd_parser")
STOCK_METHODS = {
    "tagger": "token",
    "morphologizer": "token",
    "senter": "token",
    "parser": "hard",
    "ner": "hard",
}
DISTILLER = "distiller"
# where a pair cannot serve the chosen method (e.g. `local` from a CRF teacher into
# a softmax student, anything but `hard` from an entity teacher), the first of these
# that it can serve
FALLBACK = ("structural", "token", "hard")
TEXT_READERS = {".txt": "spacy.PlainTextCorpus.v1", ".jsonl": "spacy.JsonlCorpus.v1"}


def pipeline_config_path(teacher: str) -> Path:
    """The config.cfg of a pipeline directory or an installed pipeline package
    (whose data sits in a `<lang>_<name>-<version>` folder beside its meta.json)."""
    path = Path(teacher)
    if not path.exists():
        if not spacy.util.is_package(teacher):
            raise ValueError(
                f"the teacher {teacher!r} is neither a pipeline directory nor an installed "
                "pipeline package"
            )
        package = spacy.util.get_package_path(teacher)
        meta = spacy.util.load_meta(package / "meta.json")
        path = package / f"{meta['lang']}_{meta['name']}-{meta['version']}"
    if not (path / "config.cfg").is_file():
        raise ValueError(f"the teacher {teacher!r} has no config.cfg ({path})")
    return path / "config.cfg"


def teacher_factories(teacher: str) -> Dict[str, str]:
    """Component name -> factory of a teacher pipeline (directory or package)."""
    config = load_config(pipeline_config_path(teacher), interpolate=False)
    return {name: block["factory"] for name, block in config["components"].items()}


def distillation_config(
    config: Config,
    teacher: str,
    *,
    method: str = "structural",
    kd_weight: float = 0.5,
    temperature: float = 1.0,
    students: Optional[Iterable[str]] = None,
    cache_dir: Optional[str] = None,
) -> Config:
    """`config` (a student's) with an skd_distiller in front of its pipeline. Each
    skd_* student learns by `method`, or where its pair cannot serve it by the
    first of FALLBACK that it can (the distiller warns). Checkpoints are saved
    atomically (`spacy-skd.atomic_saves.v1`) unless the config has its own
    before_to_disk."""
    config = Config(config).copy()
    pipeline = list(config["nlp"]["pipeline"])
    if DISTILLER in pipeline:
        raise ValueError(f"the student config already has a component named '{DISTILLER}'")
    available = teacher_factories(teacher)
    chosen = {}
    for name in students if students is not None else pipeline:
        if name not in pipeline:
            raise ValueError(f"the student config has no component '{name}': {pipeline}")
        factory = config["components"][name].get("factory")
        if name not in available:
            if students is not None:
                raise ValueError(f"the teacher has no component '{name}': {sorted(available)}")
            continue
        fallback: list = []
        if factory in SKD_STUDENTS:
            student_method = method
            fallback = [m for m in FALLBACK if m != method]
        elif factory in STOCK_METHODS:
            student_method = STOCK_METHODS[factory]
        else:
            continue
        chosen[name] = {
            "teacher": name,
            "method": student_method,
            "kd_weight": kd_weight,
            "temperature": temperature,
            "fallback": fallback,
        }
    if not chosen:
        raise ValueError(
            f"no component of the student ({pipeline}) has a teacher component of the same "
            f"name that can teach it ({sorted(available)})"
        )
    config["components"][DISTILLER] = {
        "factory": "skd_distiller",
        "teacher": teacher,
        "cache_dir": cache_dir,
        "students": chosen,
    }
    config["nlp"]["pipeline"] = [DISTILLER, *pipeline]
    if config["training"].get("before_to_disk") is None:
        config["training"]["before_to_disk"] = {"@misc": "spacy-skd.atomic_saves.v1"}
    return config


def with_unlabelled_text(config: Config, path: str) -> Config:
    """`config` whose train corpus also reads the raw text of `path` (`.txt`: a
    doc a line; `.jsonl`: `{"text": ...}` a line) through spaCy's own reader,
    chained after the existing train reader (`spacy-skd.ChainedCorpus.v1`)."""
    suffix = Path(path).suffix.lower()
    if suffix not in TEXT_READERS:
        raise ValueError(f"unlabelled text must be a .txt or .jsonl file, not {path}")
    if not Path(path).is_file():
        raise ValueError(f"unlabelled text {path} does not exist")
    config = Config(config).copy()
    train_key = config["training"]["train_corpus"].split(".")[-1]
    gold = config["corpora"][train_key]
    text = {"@readers": TEXT_READERS[suffix], "path": str(path), "min_length": 0, "max_length": 0}
    config["corpora"][train_key] = {
        "@readers": "spacy-skd.ChainedCorpus.v1",
        "*": {"gold": gold, "text": text},
    }
    return config


def check_corpora(config: Config) -> None:
    """Fail before training, naming the file, when a `spacy.Corpus.v1` corpus of
    `config` is missing, is not a DocBin or holds no docs (spaCy's own errors
    come later and name neither)."""
    from spacy.tokens import DocBin

    def readers(block):
        if isinstance(block, dict):
            if block.get("@readers") == "spacy.Corpus.v1":
                yield block
            for value in block.values():
                yield from readers(value)

    for name, block in config.interpolate()["corpora"].items():
        for reader in readers(block):
            path = Path(str(reader.get("path")))
            if not path.is_file():
                raise ValueError(f"corpus '{name}': {path} does not exist")
            try:
                n_docs = len(DocBin().from_disk(path))
            except ValueError:
                message = f"corpus '{name}': {path} is not a spaCy DocBin (.spacy)"
                raise ValueError(message) from None
            if n_docs == 0:
                raise ValueError(f"corpus '{name}': {path} holds no docs")


def strip_distiller(path: Path) -> None:
    """Remove the distiller from the pipeline saved at `path`, in place."""
    nlp = spacy.load(path)
    if DISTILLER in nlp.pipe_names:
        nlp.remove_pipe(DISTILLER)
        save_atomically(nlp.to_disk, path)


def distill(
    teacher: str,
    config_path: Path,
    output_path: Path,
    *,
    overrides: Optional[dict] = None,
    use_gpu: int = -1,
    unlabelled: Optional[str] = None,
    **settings,
) -> Path:
    """Train the student of `config_path` with `teacher` into `output_path`,
    with the raw text of `unlabelled` added to the train corpus if given; the
    config actually trained is written there as `distill.cfg`."""
    config = load_config(config_path, overrides=overrides or {}, interpolate=False)
    config = distillation_config(config, teacher, **settings)
    if unlabelled:
        config = with_unlabelled_text(config, unlabelled)
    check_corpora(config)
    output_path.mkdir(parents=True, exist_ok=True)
    used = output_path / "distill.cfg"
    config.to_disk(used)
    # The overrides are in the written config already; passing them again would
    # undo the distiller's place in an overridden nlp.pipeline.
    spacy_train(used, output_path, use_gpu=use_gpu)
    for name in ("model-best", "model-last"):
        if (output_path / name).exists():
            strip_distiller(output_path / name)
    return output_path
