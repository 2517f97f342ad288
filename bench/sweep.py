"""Students sized to what they can absorb. For each variant of the student: a
gold-only run (`spacy-skd train`) and a distilled run (`spacy-skd distill`, the
teacher's KD on EWT train and on a prefix of the unlabelled text) with the same
steps and seed, both scored on EWT test and GUM test (`spacy evaluate`) and timed
in turns (bench/speed_ratio.py) against spaCy's stock CNN pipeline doing the same
tasks (tagger, morphologizer, parser and NER: bench/configs/stock_cnn_ner.cfg,
trained once with the same steps, at seed 0). Every step writes its output under a
`.partial` name and renames it when done; a step whose output exists is skipped,
and a stopped training continues from its `model-last` (`spacy-skd train` and
`distill` with `--resume`), so a stopped sweep goes on where it stopped. Per variant it writes
`<metrics-dir>/<variant>.json` (scores, speeds, commands), then, from all the
JSON files there (bench/sweep_report.py), `table.md`, `plot.png` and
`plot-upos.png` (EWT test LAS and UPOS against words/s of the students, the stock
pipeline and the teacher, whose scores and timing come from the project's
`--teacher-metrics`), and `curve.md` and `curve.png` for the variants run with
several `--unlabelled-words`. With no variant it only rewrites these reports.
With `--seed N` other than 0 the students' runs go to `<training-dir>/seed<N>/`
and their JSON files to `<metrics-dir>/seed<N>/`, out of seed 0's table and
plots; `seeds.md` gives the mean ± standard deviation of every run with JSON
files at several seeds.

Variants (`--list` prints each with its overrides): cnn96 (configs/student_cnn.cfg
as it is), cnn128, cnn192, cnn256 (the same at that tok2vec width, the hash
embedding's rows scaled with the width by the config's
`spacy-skd.scaled_rows.v1`), cnn256d8 (width 256,
depth 8: the shape of spaCy's CNN for accuracy), bilstm (configs/student_bilstm.cfg);
any of them with `+hidden-mse` or `+hidden-cosine` is distilled with hidden-state
KD as well (its gold-only run is its student's). With `--unlabelled-words N` other
than `all`, the distilled runs and the files are named `<variant>-u<N>`: a
learning curve is one sweep per N (0: KD on EWT train alone).

Run it from the repository root, after the project's `convert`, `train-teacher`
(and `annotate`, for its cache) steps:

    python bench/sweep.py cnn96 cnn128 cnn192 cnn256 bilstm --dry-run
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import srsly
import typer
from sweep_report import seed_folder, write_reports
from table import SCORES

from spacy_skd.cli.text import word_count
from spacy_skd.models.rows import scaled_rows
from spacy_skd.text_files import read_texts

STUDENT_CNN = "configs/student_cnn.cfg"
STUDENT_BILSTM = "configs/student_bilstm.cfg"
STOCK_CONFIG = "bench/configs/stock_cnn_ner.cfg"
SPEED_SCRIPT = "bench/speed_ratio.py"
# the rows of spaCy's CNN pipelines and of the shipped student, at width 96
BASE_WIDTH = 96
BASE_ROWS = (5000, 1000, 2500, 2500)
TESTS = ("ewt-test", "gum-test")
# hidden-state KD of the `+hidden-<loss>` variants, beside the students' KD
HIDDEN_LOSSES = ("mse", "cosine")


def checked_word_count(value: str) -> str:
    """`--unlabelled-words`: "all" or a number of words, as given."""
    word_count(value)
    return value


def student_rows(width: int) -> List[int]:
    """The hash-embedding rows of the CNN student at `width`: spaCy's rows at width
    96, scaled by the config's `spacy-skd.scaled_rows.v1`."""
    return scaled_rows(width, BASE_ROWS, BASE_WIDTH)


def cnn_overrides(width: int, depth: int = 4) -> Tuple[str, ...]:
    """Overrides of configs/student_cnn.cfg for a CNN tok2vec of `width` and `depth`
    (every listener, the parser's BiLSTM and the embedding's rows follow
    encode.width)."""
    overrides = ["--components.tok2vec.model.encode.width", str(width)]
    if depth != 4:
        overrides += ["--components.tok2vec.model.encode.depth", str(depth)]
    return tuple(overrides)


@dataclass(frozen=True)
class Student:
    name: str
    config: str
    overrides: Tuple[str, ...]
    description: str


def _cnn(width: int, depth: int = 4, note: str = "") -> Student:
    rows = "/".join(str(r) for r in student_rows(width))
    description = f"CNN tok2vec width {width}, depth {depth}, rows {rows}{note}"
    overrides = () if (width, depth) == (BASE_WIDTH, 4) else cnn_overrides(width, depth)
    return Student(
        f"cnn{width}" + (f"d{depth}" if depth != 4 else ""), STUDENT_CNN, overrides, description
    )


STUDENTS: Dict[str, Student] = {
    student.name: student
    for student in [
        _cnn(96, note=" (configs/student_cnn.cfg as shipped; spaCy's efficiency CNN)"),
        _cnn(128),
        _cnn(192),
        _cnn(256),
        _cnn(256, 8, note=" (the shape of spaCy's CNN for accuracy, without static vectors)"),
        Student(
            "bilstm",
            STUDENT_BILSTM,
            (),
            "BiLSTM tok2vec, 2 layers, width 256 (128 a direction), rows 5000/1000/2500/2500 "
            "(configs/student_bilstm.cfg)",
        ),
    ]
}


@dataclass(frozen=True)
class Variant:
    name: str
    student: Student
    hidden_loss: Optional[str]


def parse_variant(name: str) -> Variant:
    """`<student>` or `<student>+hidden-<loss>`."""
    student, _, extra = name.partition("+")
    if student not in STUDENTS:
        raise typer.BadParameter(f"unknown student '{student}' in '{name}': {', '.join(STUDENTS)}")
    hidden_loss = None
    if extra:
        kind, _, hidden_loss = extra.partition("-")
        if kind != "hidden" or hidden_loss not in HIDDEN_LOSSES:
            known = ", ".join(f"+hidden-{loss}" for loss in HIDDEN_LOSSES)
            raise typer.BadParameter(f"unknown addition '+{extra}' in '{name}': {known}")
    return Variant(name, STUDENTS[student], hidden_loss)


@dataclass(frozen=True)
class Settings:
    teacher: Path
    corpus_dir: Path
    unlabelled: Path
    unlabelled_words: str
    steps: int
    eval_frequency: int
    seed: int
    method: str
    hidden_layers: Tuple[int, ...]
    cache_dir: Optional[Path]
    distill_args: Tuple[str, ...]
    gpu_id: int
    rounds: int
    threads: int
    training_dir: Path

    def corpus(self, name: str) -> str:
        return str(self.corpus_dir / f"{name}.spacy")

    def run_name(self, variant: Variant) -> str:
        """The variant, with the prefix of the unlabelled text it learnt from."""
        if self.unlabelled_words == "all":
            return variant.name
        return f"{variant.name}-u{self.unlabelled_words}"

    @property
    def seed_dir(self) -> Path:
        """Where the students of this seed go: the training folder for seed 0,
        its `seed<N>` subfolder for another."""
        return self.training_dir / seed_folder(self.seed)

    @property
    def stock(self) -> Path:
        """The stock pipeline, trained once (at seed 0): every seed's speed reference."""
        return self.training_dir / "stock"

    def gold(self, variant: Variant) -> Path:
        return self.seed_dir / variant.student.name / "gold"

    def distilled(self, variant: Variant) -> Path:
        return self.seed_dir / self.run_name(variant) / "distilled"

    def speed(self, variant: Variant) -> Path:
        return self.seed_dir / self.run_name(variant) / "speed.json"

    @property
    def text(self) -> Path:
        return self.training_dir / "unlabelled" / f"transfer-{self.unlabelled_words}.txt"


@dataclass(frozen=True)
class Step:
    """`command(path)` writes `output` at `path`; done when `output` exists. A
    `resumable` command continues what a stopped run left at `path`."""

    title: str
    output: Path
    command: Callable[[Path], List[str]]
    resumable: bool = False


def staged(path: Path) -> Path:
    """Where a step writes `path` until it is done: `gold` -> `gold.partial`,
    `ewt-test.json` -> `ewt-test.partial.json`."""
    return path.with_name(f"{path.stem}.partial{path.suffix}")


def python(*args: str) -> List[str]:
    return [sys.executable, *args]


def shown(command: List[str]) -> str:
    """`command` as a shell line, its interpreter written `python`."""
    if command[0] == sys.executable:
        command = ["python", *command[1:]]
    return shlex.join(command)


def training_options(settings: Settings, seed: Optional[int] = None) -> List[str]:
    """The same corpora and steps for every run, and the sweep's seed (or `seed`)."""
    return [
        "--paths.train",
        settings.corpus("ewt-train"),
        "--paths.dev",
        settings.corpus("ewt-dev"),
        "--training.max_steps",
        str(settings.steps),
        "--training.eval_frequency",
        str(settings.eval_frequency),
        "--system.seed",
        str(settings.seed if seed is None else seed),
    ]


def train_step(
    title: str,
    config: str,
    overrides: Sequence[str],
    output: Path,
    s: Settings,
    seed: Optional[int] = None,
) -> Step:
    def command(path: Path) -> List[str]:
        args = ["-m", "spacy_skd", "train", config, str(path), "--resume"]
        args += ["--gpu-id", str(s.gpu_id)]
        return python(*args, *training_options(s, seed), *overrides)

    return Step(title, output, command, resumable=True)


def distill_step(variant: Variant, s: Settings) -> Step:
    def command(path: Path) -> List[str]:
        args = ["-m", "spacy_skd", "distill", str(s.teacher), variant.student.config, str(path)]
        args += ["--resume", "--method", s.method, "--gpu-id", str(s.gpu_id)]
        if s.unlabelled_words != "0":
            args.append(f"--unlabelled={s.text}")
        if s.cache_dir is not None:
            args += ["--cache-dir", str(s.cache_dir)]
        if variant.hidden_loss is not None:
            for layer in s.hidden_layers:
                args += ["--hidden-layer", str(layer)]
            args += ["--hidden-loss", variant.hidden_loss]
        args += [*s.distill_args, *training_options(s), *variant.student.overrides]
        return python(*args)

    return Step(f"distil {s.run_name(variant)}", s.distilled(variant), command, resumable=True)


def evaluate_steps(title: str, run: Path, s: Settings) -> List[Step]:
    def command_for(test: str) -> Callable[[Path], List[str]]:
        def command(path: Path) -> List[str]:
            args = ["-m", "spacy", "evaluate", str(run / "model-best"), s.corpus(test)]
            return python(*args, "--output", str(path), "--gpu-id", str(s.gpu_id))

        return command

    return [
        Step(f"score {title} on {test}", run / f"{test}.json", command_for(test)) for test in TESTS
    ]


def speed_step(variant: Variant, s: Settings) -> Step:
    def command(path: Path) -> List[str]:
        runs = [str(run / "model-best") for run in (s.stock, s.gold(variant), s.distilled(variant))]
        args = [SPEED_SCRIPT, s.corpus("ewt-test"), *runs, "--rounds", str(s.rounds)]
        return python(*args, "--threads", str(s.threads), "--output", str(path))

    return Step(f"time {s.run_name(variant)} against stock", s.speed(variant), command)


def plan(variants: Sequence[Variant], s: Settings) -> List[Step]:
    """Every step of the sweep in order, each once (variants share the unlabelled
    text, the stock run and their students' gold-only runs)."""

    def text(path: Path) -> List[str]:
        args = ["-m", "spacy_skd", "text", str(s.unlabelled), str(path)]
        return python(*args, "--max-words", s.unlabelled_words)

    steps = [] if s.unlabelled_words == "0" else [Step("unlabelled text", s.text, text)]
    steps.append(train_step("train stock", STOCK_CONFIG, (), s.stock, s, seed=0))
    steps += evaluate_steps("stock", s.stock, s)
    for variant in variants:
        student = variant.student
        steps.append(
            train_step(
                f"train {student.name} gold-only",
                student.config,
                student.overrides,
                s.gold(variant),
                s,
            )
        )
        steps += evaluate_steps(f"{student.name} gold-only", s.gold(variant), s)
        steps.append(distill_step(variant, s))
        steps += evaluate_steps(f"{s.run_name(variant)} distilled", s.distilled(variant), s)
        steps.append(speed_step(variant, s))
    unique: Dict[Path, Step] = {}
    for step in steps:
        unique.setdefault(step.output, step)
    return list(unique.values())


def run_steps(steps: Sequence[Step], *, dry_run: bool) -> None:
    """Run the steps whose output is missing (print their commands with dry_run)."""
    for index, step in enumerate(steps, 1):
        if step.output.exists():
            typer.echo(f"[{index}/{len(steps)}] {step.title}: done ({step.output})", err=True)
            continue
        if dry_run:
            typer.echo(shlex.join(step.command(step.output)))
            continue
        partial = staged(step.output)
        resuming = step.resumable and partial.is_dir()
        typer.echo(
            f"[{index}/{len(steps)}] {step.title}" + (f", resuming {partial}" if resuming else ""),
            err=True,
        )
        if partial.is_dir() and not resuming:
            shutil.rmtree(partial)
        elif partial.is_file():
            partial.unlink()
        partial.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(step.command(partial), check=True)
        os.replace(partial, step.output)


def scores(run: Path) -> Dict[str, Dict[str, Optional[float]]]:
    """The table's scores of `run` on each test set (None where not scored)."""
    results = {}
    for test in TESTS:
        metrics = srsly.read_json(run / f"{test}.json")
        results[test] = {key: metrics.get(key) for key, _ in SCORES}
    return results


def transfer_words(s: Settings) -> int:
    """The words (whitespace-separated) of the unlabelled sample the distilled runs
    read: 0 for none."""
    if s.unlabelled_words == "0":
        return 0
    return sum(len(doc.split()) for _, doc in read_texts(s.text))


def results(variant: Variant, s: Settings, steps: Sequence[Step]) -> dict:
    """What the per-variant JSON file holds: settings, commands, scores, speeds."""
    runs = {"stock": s.stock, "gold": s.gold(variant), "distilled": s.distilled(variant)}
    timing = srsly.read_json(s.speed(variant))
    speed = timing.pop("pipelines")
    by_output = {step.output: step for step in steps}
    outputs = {**runs, "speed": s.speed(variant)}
    return {
        "variant": s.run_name(variant),
        "student": variant.student.name,
        "description": variant.student.description,
        "config": variant.student.config,
        "overrides": list(variant.student.overrides),
        "hidden_loss": variant.hidden_loss,
        "hidden_layers": list(s.hidden_layers) if variant.hidden_loss else [],
        "teacher": str(s.teacher),
        "unlabelled": str(s.unlabelled),
        "unlabelled_words": s.unlabelled_words,
        "transfer_words": transfer_words(s),
        "steps": s.steps,
        "seed": s.seed,
        "method": s.method,
        "distill_args": list(s.distill_args),
        "commands": {name: shown(by_output[path].command(path)) for name, path in outputs.items()},
        "timing": timing,
        "runs": {
            name: {
                **scores(path),
                "words_per_second": speed[str(path / "model-best")]["words_per_second"],
                "time_per_word_vs_stock": speed[str(path / "model-best")]["time_per_word_vs_first"],
            }
            for name, path in runs.items()
        },
    }


def main(
    variants: Optional[List[str]] = typer.Argument(
        None, help="Variants to run (none: only rewrite the table, plots and curves)"
    ),
    teacher: Path = typer.Option(
        Path("project/training/teacher-minilm/model-best"), help="Trained teacher pipeline"
    ),
    corpus_dir: Path = typer.Option(
        Path("project/corpus"),
        help="Folder of ewt-{train,dev,test}.spacy and gum-test.spacy (the project's convert step)",
    ),
    unlabelled: Path = typer.Option(
        Path("project/assets/unlabelled/transfer-mix.txt"),
        help="Unlabelled text, a doc a line (shuffled: its first lines are a random sample)",
    ),
    unlabelled_words: str = typer.Option(
        "all",
        callback=checked_word_count,
        help="Words of the unlabelled text to distil on (its first lines), 'all' or N",
    ),
    steps: int = typer.Option(4000, min=1, help="Training steps of every run"),
    eval_frequency: int = typer.Option(200, min=1, help="Steps between evaluations on EWT dev"),
    seed: int = typer.Option(
        0,
        help="Seed of the students' runs; another than 0 puts them in the training folder's "
        "seed<N>/ and their JSON files in the metrics folder's seed<N>/ (the stock pipeline "
        "stays seed 0's)",
    ),
    method: str = typer.Option("structural", help="KD method of the skd_* students"),
    hidden_layers: str = typer.Option(
        "-1,3",
        help="Teacher layers the +hidden variants learn (their mean): the last and a middle "
        "one (3 of MiniLM-L6's six; 6 of mpnet's twelve)",
    ),
    cache_dir: Optional[Path] = typer.Option(
        None, help="Teacher-target cache (e.g. the project's cache/teacher-minilm)"
    ),
    distill_args: str = typer.Option(
        "", help="More options for every distill command, e.g. '--kd-weight 0.7'"
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU for training and scoring"),
    rounds: int = typer.Option(5, min=1, help="Timed passes of each pipeline"),
    threads: int = typer.Option(2, min=1, help="torch threads while timing"),
    training_dir: Path = typer.Option(Path("training/sweep"), help="Where the runs go"),
    metrics_dir: Path = typer.Option(Path("bench/metrics/sweep"), help="Where the JSON files go"),
    teacher_metrics: Path = typer.Option(
        Path("project/metrics"),
        help="The project's scores and timing of the teacher for the plots "
        "(teacher-<name>.ewt-test.json and .speed.json of a teacher in teacher-<name>/model-best)",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the commands still to run"),
    list_variants: bool = typer.Option(False, "--list", help="Print the variants and stop"),
) -> None:
    if list_variants:
        for student in STUDENTS.values():
            typer.echo(f"{student.name}: {student.description}; {student.config}")
            if student.overrides:
                typer.echo(f"    {shlex.join(student.overrides)}")
        typer.echo(
            "<student>+hidden-mse, <student>+hidden-cosine: distilled with hidden-state KD too"
        )
        return
    settings = Settings(
        teacher=teacher,
        corpus_dir=corpus_dir,
        unlabelled=unlabelled,
        unlabelled_words=unlabelled_words,
        steps=steps,
        eval_frequency=eval_frequency,
        seed=seed,
        method=method,
        hidden_layers=tuple(int(layer) for layer in hidden_layers.split(",")),
        cache_dir=cache_dir,
        distill_args=tuple(shlex.split(distill_args)),
        gpu_id=gpu_id,
        rounds=rounds,
        threads=threads,
        training_dir=training_dir,
    )
    chosen = [parse_variant(name) for name in variants or []]
    steps_to_run = plan(chosen, settings)
    if chosen:
        run_steps(steps_to_run, dry_run=dry_run)
    if dry_run:
        return
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for variant in chosen:
        path = metrics_dir / seed_folder(seed) / f"{settings.run_name(variant)}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        srsly.write_json(path, results(variant, settings, steps_to_run))
    text = write_reports(metrics_dir, list(STUDENTS), teacher_metrics)
    if text:
        typer.echo(text)


if __name__ == "__main__":
    typer.run(main)
