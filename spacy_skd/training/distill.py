"""One-shot distillation: a student config plus a teacher pipeline -> a trained
student without the teacher in it (what `spacy-skd distill` runs).

The student config gets an skd_distiller in front of its pipeline whose students
are the components the teacher has by the same name: skd_* students with the
chosen method, spaCy's tagger/morphologizer/senter with token KD, spaCy's
parser/ner with silver ("hard") targets. spaCy's own `train` then trains it;
afterwards the inert distiller is removed from model-best and model-last
(see docs/design.md, "Saving without the teacher").
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence

import spacy
from spacy.util import load_config
from thinc.api import Config

from ..methods import FALLBACK, STOCK_DEFAULT_METHODS
from ..text_files import MAX_LINE_CHARS, TEXT_SUFFIXES, holds_text
from .corpus import MIXED_CORPUS, TEXT_CORPUS
from .initial_weights import with_second_stage
from .resume import train_pipeline
from .saving import save_atomically

SKD_STUDENTS = ("skd_tagger", "skd_ner", "skd_parser")
DISTILLER = "distiller"


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
    hidden_layers: Sequence[int] = (),
    hidden_loss: str = "mse",
    hidden_weight: float = 1.0,
) -> Config:
    """`config` (a student's) with an skd_distiller in front of its pipeline. Each
    skd_* student learns by `method`, or where its pair cannot serve it by the
    first of `methods.FALLBACK` that it can (the distiller warns); spaCy's own
    components by `methods.STOCK_DEFAULT_METHODS`. With `hidden_layers`
    the student's shared tok2vec also learns the mean of those teacher layers
    (hidden-state KD by `hidden_loss`, weighted by `hidden_weight`) through a
    projection, and the distiller sits right after that tok2vec, whose output it
    listens to. Checkpoints are saved atomically (`spacy-skd.atomic_saves.v1`)
    unless the config has its own before_to_disk."""
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
        elif factory in STOCK_DEFAULT_METHODS:
            student_method = STOCK_DEFAULT_METHODS[factory]
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
    distiller = {
        "factory": "skd_distiller",
        "teacher": teacher,
        "cache_dir": cache_dir,
        "students": chosen,
    }
    position = 0
    if hidden_layers:
        tok2vec = shared_tok2vec(config)
        listener = {
            "@architectures": "spacy.Tok2VecListener.v1",
            "width": tok2vec_width(config, tok2vec),
            "upstream": tok2vec,
        }
        distiller.update(
            model={"@architectures": "spacy-skd.HiddenProjection.v1", "tok2vec": listener},
            hidden_layers=list(hidden_layers),
            hidden_loss=hidden_loss,
            hidden_weight=hidden_weight,
        )
        position = pipeline.index(tok2vec) + 1
    config["components"][DISTILLER] = distiller
    config["nlp"]["pipeline"] = [*pipeline[:position], DISTILLER, *pipeline[position:]]
    if config["training"].get("before_to_disk") is None:
        config["training"]["before_to_disk"] = {"@misc": "spacy-skd.atomic_saves.v1"}
    return config


def shared_tok2vec(config: Config) -> str:
    """The name of the first `tok2vec` component of `config`'s pipeline."""
    for name in config["nlp"]["pipeline"]:
        if config["components"][name].get("factory") == "tok2vec":
            return name
    raise ValueError(
        "hidden-state KD needs a shared 'tok2vec' component in the student's pipeline, "
        f"whose vectors learn the teacher's: {list(config['nlp']['pipeline'])}"
    )


def tok2vec_width(config: Config, name: str) -> int:
    """The output width of the tok2vec component `name`: its encoder's width
    (spacy.Tok2Vec.v2) or its own (e.g. spacy.HashEmbedCNN.v2)."""
    model = config.interpolate()["components"][name]["model"]
    width = model.get("encode", model).get("width")
    if not isinstance(width, int):
        raise ValueError(f"cannot tell the output width of the tok2vec '{name}': {model}")
    return width


def with_unlabelled_text(
    config: Config,
    path: str,
    *,
    gold_share: float = 0.5,
    shuffle_buffer: int = 1000,
    max_line_chars: int = MAX_LINE_CHARS,
) -> Config:
    """`config` whose train corpus streams the existing train reader's gold mixed
    with the raw text of `path` (`.txt`: a doc a line; `.jsonl`: `{"text": ...}`
    a line; read lazily by `spacy-skd.TextCorpus.v1`, lines of at most
    `max_line_chars` characters), `gold_share` of the words from gold
    (`spacy-skd.MixedCorpus.v1`, text shuffled within `shuffle_buffer` docs,
    seeded by `[system] seed`), trained with `max_epochs = -1`."""
    if Path(path).suffix.lower() not in TEXT_SUFFIXES:
        raise ValueError(f"unlabelled text must be a .txt or .jsonl file, not {path}")
    if not Path(path).is_file():
        raise ValueError(f"unlabelled text {path} does not exist")
    if not 0.0 < gold_share <= 1.0:
        raise ValueError(f"the gold share must be in (0, 1], not {gold_share}")
    config = Config(config).copy()
    train_key = config["training"]["train_corpus"].split(".")[-1]
    gold = config["corpora"][train_key]
    text = {"@readers": TEXT_CORPUS, "path": str(path), "max_line_chars": max_line_chars}
    seed = "${system.seed}" if config.get("system", {}).get("seed") is not None else 0
    config["corpora"][train_key] = {
        "@readers": MIXED_CORPUS,
        "gold_share": gold_share,
        "shuffle_buffer": shuffle_buffer,
        "seed": seed,
        "gold": gold,
        "text": text,
    }
    config["training"]["max_epochs"] = -1
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
    gold_share: float = 0.5,
    max_line_chars: int = MAX_LINE_CHARS,
    resume: bool = False,
    memory_entries: Optional[int] = None,
    init_from: Optional[str] = None,
    anneal: bool = False,
    **settings,
) -> Path:
    """Train the student of `config_path` with `teacher` into `output_path`,
    with the raw text of `unlabelled` mixed into the train corpus if given
    (`gold_share` of the words from gold, see `with_unlabelled_text`; read
    through first, so that a bad line fails before training, see
    `text_files.holds_text`; a file without text is left out, with a
    warning); the config actually trained is written there as `distill.cfg`.
    With `resume`, an unfinished run of the same config, teacher and data
    continues from its model-last (see `resume.train_pipeline`). memory_entries:
    the distiller's (default: its factory's). init_from: a saved student whose
    weights training starts from; anneal: the learning rate falls linearly to 0
    (`initial_weights.with_second_stage`)."""
    config = load_config(config_path, overrides=overrides or {}, interpolate=False)
    config = distillation_config(config, teacher, **settings)
    if memory_entries is not None:
        config["components"][DISTILLER]["memory_entries"] = memory_entries
    config = with_second_stage(config, init_from, anneal)
    if unlabelled:
        # first: it refuses a path that is no .txt or .jsonl file, naming it
        mixed = with_unlabelled_text(
            config, unlabelled, gold_share=gold_share, max_line_chars=max_line_chars
        )
        if holds_text(unlabelled, max_line_chars, read_through=True):
            config = mixed
        else:
            message = f"the unlabelled text {unlabelled} holds no text: training without it"
            warnings.warn(message, stacklevel=2)
            unlabelled = None
    check_corpora(config)
    output_path.mkdir(parents=True, exist_ok=True)
    used = output_path / "distill.cfg"
    config.to_disk(used)
    # The overrides are in the written config already; passing them again would
    # undo the distiller's place in an overridden nlp.pipeline.
    inputs = [teacher, *([unlabelled] if unlabelled else []), *([init_from] if init_from else [])]
    used_config = load_config(used, interpolate=False)
    train_pipeline(used_config, output_path, use_gpu=use_gpu, resume=resume, paths=inputs)
    for name in ("model-best", "model-last"):
        if (output_path / name).exists():
            strip_distiller(output_path / name)
    return output_path
