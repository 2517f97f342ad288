"""The model card of a packaged distilled pipeline: the README.md that `spacy
package` ships (it keeps a README.md it finds in the pipeline folder instead of
generating one from meta.json). `write_card` copies the pipeline to a new folder
with the card and with meta.json's name, version, description, licence and
sources set, ready for `spacy package`.

The card states what the pipeline does (components, label counts), its scores on
EWT test and GUM test, its CPU speed beside its teacher's and its gold-only
twin's, how it was distilled (read from the training config that `spacy-skd
distill` wrote), the training data and licences (a markdown file whose YAML
front matter holds meta.json's `license` and `sources`) and the command that
reproduces it. Scores and speeds come from the metrics files the report reads
(`NAME.ewt-test.json`, `NAME.gum-test.json`, `NAME.speed.json`)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import srsly
from spacy.util import get_lang_class, load_config

from ..training.initial_weights import INITIAL_WEIGHTS
from ..training.resume import read_progress
from ..training.schedules import linear_decay_start
from .report import Run, read_run, score_cell, timed_on
from .speed import directory_size_mb

# (score key, column title): the card's accuracy columns
CARD_SCORES: Tuple[Tuple[str, str], ...] = (
    ("pos_acc", "UPOS"),
    ("tag_acc", "XPOS"),
    ("dep_uas", "UAS"),
    ("dep_las", "LAS"),
    ("ents_f", "NER F"),
    ("sents_f", "sentence F"),
)
# (file suffix, test set)
TEST_SETS: Tuple[Tuple[str, str], ...] = (
    ("ewt-test", "UD English-EWT test"),
    ("gum-test", "UD English-GUM test"),
)
EVALUATIONS = tuple(suffix for suffix, _ in TEST_SETS)
FRONT_MATTER = "---"


@dataclass
class CardRuns:
    """Names of metrics runs: the pipeline's (its evaluation files required) and
    its teacher's and gold-only twin's (any file may be missing)."""

    pipeline: str
    teacher: Optional[str] = None
    twin: Optional[str] = None


@dataclass
class DataNotes:
    """The training data and licences: meta.json's `license` and `sources`, and
    the markdown the card shows."""

    license: str
    sources: List[Dict[str, str]]
    text: str


@dataclass
class Distillation:
    """How a student was distilled, from the config `spacy-skd distill` ran."""

    teacher: str
    methods: Dict[str, str]  # student component -> "structural KD (kd_weight 0.5, ...)"
    max_steps: int
    eval_frequency: int
    seed: int
    train: List[str]  # gold corpus paths
    dev: List[str]
    unlabelled: List[str] = field(default_factory=list)  # text paths
    gold_share: Optional[float] = None
    # a second stage (`--init-from`, `--anneal`): the run it started from, that
    # run's steps, and the learning rate's fall
    initial_weights: Optional[str] = None
    initial_steps: Optional[int] = None
    decay_from: Optional[float] = None


@dataclass
class Card:
    """The card's markdown, the meta.json it goes with, and what it leaves out
    for want of a metrics file (one line each)."""

    text: str
    meta: Dict[str, Any]
    left_out: List[str]


def read_data_notes(path: Path) -> DataNotes:
    """The markdown file `path`: YAML front matter between `---` lines with
    `license` (a string) and `sources` (a list of mappings with at least a
    `name`), then the text."""
    content = Path(path).read_text(encoding="utf8")
    head, sep, rest = content.partition("\n" + FRONT_MATTER + "\n")
    if not content.startswith(FRONT_MATTER + "\n") or not sep:
        raise ValueError(f"{path} has no front matter (between '{FRONT_MATTER}' lines)")
    matter = srsly.yaml_loads(head[len(FRONT_MATTER) + 1 :]) or {}
    license_name = matter.get("license")
    sources = matter.get("sources")
    if not isinstance(license_name, str) or not license_name:
        raise ValueError(f"{path}: the front matter has no 'license'")
    if not isinstance(sources, list) or not all(
        isinstance(source, dict) and source.get("name") for source in sources
    ):
        raise ValueError(f"{path}: 'sources' must be a list of mappings with a 'name'")
    sources = [{key: str(value) for key, value in source.items()} for source in sources]
    return DataNotes(license_name, sources, rest.strip())


def _paths(block: Any) -> List[str]:
    """Every `path` in a reader's config block and the blocks inside it."""
    if not isinstance(block, dict):
        return []
    found = [str(block["path"])] if block.get("path") is not None else []
    return found + [path for value in block.values() for path in _paths(value)]


def read_distillation(config_path: Path) -> Distillation:
    """The teacher, methods, steps, seed and corpora of the distillation config
    `config_path` (the `distill.cfg` that `spacy-skd distill` writes beside
    model-best)."""
    config = load_config(config_path, interpolate=True)
    distiller = config["components"].get("distiller", {})
    if distiller.get("factory") != "skd_distiller":
        raise ValueError(f"{config_path} has no skd_distiller: not a distillation config")
    methods = {
        name: f"{student['method']} KD (kd_weight {student['kd_weight']}, "
        f"temperature {student['temperature']})"
        for name, student in distiller["students"].items()
    }
    train = config["corpora"]["train"]
    gold = train.get("gold", train)
    after_init = config.get("initialize", {}).get("after_init") or {}
    initial_weights = None
    initial_steps = None
    if after_init.get("@callbacks") == INITIAL_WEIGHTS:
        initial_weights = str(after_init["path"])
        progress = read_progress(Path(initial_weights))
        initial_steps = progress.get("step") if progress else None
    return Distillation(
        teacher=str(distiller["teacher"]),
        methods=methods,
        max_steps=int(config["training"]["max_steps"]),
        eval_frequency=int(config["training"]["eval_frequency"]),
        seed=int(config["system"]["seed"]),
        train=_paths(gold),
        dev=_paths(config["corpora"]["dev"]),
        unlabelled=_paths(train.get("text")),
        gold_share=train.get("gold_share"),
        initial_weights=initial_weights,
        initial_steps=initial_steps,
        decay_from=linear_decay_start(config["training"].get("optimizer", {}).get("learn_rate")),
    )


def package_name(meta: Dict[str, Any]) -> str:
    """The package's name as `spacy package` makes it: the language code in front."""
    name = meta["name"]
    return name if name.startswith(meta["lang"] + "_") else f"{meta['lang']}_{name}"


def _labels_cell(labels: Optional[List[str]]) -> str:
    """A component's label count, with the labels themselves when there are few."""
    if not labels:
        return "—"
    return f"{len(labels)}" + (f" ({', '.join(labels)})" if len(labels) <= 5 else "")


def components_table(pipeline_dir: Path, meta: Dict[str, Any]) -> str:
    """Markdown table of the pipeline's components: factory and labels."""
    config = load_config(Path(pipeline_dir) / "config.cfg", interpolate=False)
    lines = ["| component | factory | labels |", "|---|---|---|"]
    for name in meta["pipeline"]:
        factory = config["components"][name].get("factory", "—")
        labels = _labels_cell(meta.get("labels", {}).get(name))
        lines.append(f"| `{name}` | `{factory}` | {labels} |")
    return "\n".join(lines)


def _read_runs(metrics_dir: Path, runs: CardRuns) -> Tuple[List[Tuple[str, Run]], List[str]]:
    """(label, files) of the pipeline, its teacher and its twin, in that order,
    and a line for each file of the teacher and the twin that is missing."""
    found = [("this pipeline", read_run(metrics_dir, runs.pipeline, optional=("speed",)))]
    missing = []
    for label, name in (("teacher", runs.teacher), ("gold-only twin", runs.twin)):
        if name is None:
            continue
        files = read_run(metrics_dir, name, optional=EVALUATIONS + ("speed",))
        missing += [
            f"the {label}'s {suffix} ({Path(metrics_dir) / f'{name}.{suffix}.json'} is missing)"
            for suffix in EVALUATIONS + ("speed",)
            if suffix not in files
        ]
        found.append((label, files))
    return found, missing


def accuracy_table(runs: Sequence[Tuple[str, Run]]) -> str:
    """Markdown table: a row per run and test set it has scores for, in %."""
    titles = [title for _, title in CARD_SCORES]
    lines = ["| pipeline | test set | " + " | ".join(titles) + " |"]
    lines.append("|---" * (len(titles) + 2) + "|")
    for label, files in runs:
        for suffix, test_set in TEST_SETS:
            if suffix in files:
                cells = [score_cell([files[suffix].get(key)]) for key, _ in CARD_SCORES]
                lines.append(f"| {label} | {test_set} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def speed_section(runs: Sequence[Tuple[str, Run]]) -> str:
    """Markdown: CPU words/s and size of the runs that were timed, the
    pipeline's first; a sentence when the pipeline itself was not timed."""
    if "speed" not in runs[0][1]:
        return "Not measured for this release."
    timed = [(label, files["speed"]) for label, files in runs if "speed" in files]
    lines = ["| pipeline | CPU words/s | MB on disk |", "|---|---|---|"]
    for label, speed in timed:
        words = score_cell([speed["cpu_words_per_second"]], 1, 0)
        lines.append(f"| {label} | {words} | {speed['size_mb']:.1f} |")
    lines += [
        "",
        "Words/s: the median of timed `nlp.pipe` passes over EWT test's texts on the CPU "
        f"({timed_on([speed for _, speed in timed])}; `spacy-skd benchmark`).",
    ]
    return "\n".join(lines)


def training_section(distillation: Distillation) -> str:
    """Markdown list: how the student was distilled."""
    by_method: Dict[str, List[str]] = {}
    for name, method in distillation.methods.items():
        by_method.setdefault(method, []).append(f"`{name}`")
    methods = "; ".join(f"{', '.join(names)}: {method}" for method, names in by_method.items())
    lines = [
        f"- Teacher: the transformer pipeline `{distillation.teacher}`; each student "
        "component learns from the teacher's component of the same name (spacy-skd's "
        f"`skd_distiller`): {methods}.",
        f"- Gold corpus: {', '.join(f'`{path}`' for path in distillation.train)}.",
    ]
    if distillation.unlabelled:
        share = "" if distillation.gold_share is None else f"{distillation.gold_share:.0%} of "
        lines.append(
            f"- Unlabelled text: {', '.join(f'`{path}`' for path in distillation.unlabelled)}, "
            f"which the teacher labels (never gold); {share}each batch's words come from "
            "the gold corpus, the rest from this text."
        )
    if distillation.initial_weights:
        steps = f" after {distillation.initial_steps:,} steps" if distillation.initial_steps else ""
        lines.append(
            f"- Started from the weights of `{distillation.initial_weights}`{steps} "
            "(spacy-skd's `--init-from`)."
        )
    if distillation.decay_from is not None:
        lines.append(
            f"- The learning rate fell linearly from {distillation.decay_from:g} to 0 "
            "(spacy-skd's `--anneal`)."
        )
    more = " more" if distillation.initial_weights else ""
    lines.append(
        f"- At most {distillation.max_steps:,}{more} steps, seed {distillation.seed}; the "
        f"checkpoint with the best score on {', '.join(f'`{p}`' for p in distillation.dev)} "
        f"(evaluated every {distillation.eval_frequency} steps) is this pipeline."
    )
    return "\n".join(lines)


def model_card(
    pipeline_dir: Path,
    *,
    name: str,
    version: str,
    metrics_dir: Path,
    runs: CardRuns,
    training_config: Path,
    data_notes: Path,
    command: str,
) -> Card:
    """The card of the pipeline in `pipeline_dir`, packaged as `name` `version`;
    the pipeline's own evaluation files must exist, every other metrics file may
    be missing (`Card.left_out` names them)."""
    meta = srsly.read_json(Path(pipeline_dir) / "meta.json")
    notes = read_data_notes(data_notes)
    distillation = read_distillation(training_config)
    found, left_out = _read_runs(metrics_dir, runs)
    if "speed" not in found[0][1]:
        missing = Path(metrics_dir) / f"{runs.pipeline}.speed.json"
        left_out.insert(0, f"this pipeline's speed ({missing} is missing)")
    speed = found[0][1].get("speed")
    size_mb = speed["size_mb"] if speed else directory_size_mb(pipeline_dir)
    meta = dict(meta, name=name, version=version, license=notes.license, sources=notes.sources)
    package = package_name(meta)
    language = get_lang_class(meta["lang"]).__name__
    meta["description"] = (
        f"{language} pipeline ({', '.join(meta['pipeline'])}) distilled from a transformer "
        "teacher with spacy-skd"
    )
    vectors = "no static vectors" if not meta.get("vectors", {}).get("width") else "static vectors"
    text = "\n".join(
        [
            f"# {package} {version}",
            "",
            f"{meta['description']}; {vectors}, {size_mb:.1f} MB on disk. Licence: "
            f"{notes.license}.",
            "",
            components_table(pipeline_dir, meta),
            "",
            "## Install and load",
            "",
            f"It needs spaCy {meta.get('spacy_version', '')} and spacy-skd, whose components "
            "it runs, installed first (spacy-skd: `pip install .` in its repository); then:",
            "",
            "```",
            f"pip install {package}-{version}.tar.gz",
            f"python -c \"import spacy; nlp = spacy.load('{package}'); "
            "print([(t.text, t.tag_, t.dep_) for t in nlp('It runs on the CPU.')])\"",
            "```",
            "",
            "## Accuracy",
            "",
            accuracy_table(found),
            "",
            "Scores in % (`spacy evaluate`): UD English-EWT test (its Universal NER "
            "annotation for NER) and UD English-GUM test (out of domain; no NER). A dash: "
            "not scored.",
            "",
            "## Speed",
            "",
            speed_section(found),
            "",
            "## Training",
            "",
            training_section(distillation),
            "",
            "## Training data and licences",
            "",
            notes.text,
            "",
            "## Reproduce",
            "",
            "```",
            command,
            "```",
        ]
    )
    return Card(text + "\n", meta, left_out)


def write_card(pipeline_dir: Path, output_dir: Path, card: Card) -> None:
    """Copy the pipeline in `pipeline_dir` to `output_dir` (replacing an earlier
    copy there) with `README.md` (the card) and meta.json (the card's meta)."""
    pipeline_dir, output_dir = Path(pipeline_dir), Path(output_dir)
    source, target = pipeline_dir.resolve(), output_dir.resolve()
    if target == source or source in target.parents or target in source.parents:
        raise ValueError(f"{output_dir} must lie outside {pipeline_dir} and not hold it")
    if output_dir.exists():
        if not (output_dir / "meta.json").is_file():
            raise ValueError(f"{output_dir} exists and is not a pipeline folder: not replacing it")
        shutil.rmtree(output_dir)
    shutil.copytree(pipeline_dir, output_dir)
    (output_dir / "README.md").write_text(card.text, encoding="utf8")
    srsly.write_json(output_dir / "meta.json", card.meta)
