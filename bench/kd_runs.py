"""Comparison runs of the KD methods: the CNN student trained gold-only and distilled
from one teacher with each KD method, over several seeds, then scored on EWT
test and GUM test and compared with the teacher (agreement).

Each run is the project's own command (`train-baseline` or `distill` of
project/project.yml) with the method and seed filled in. Runs already trained
(marked `done` in RUN_DIR once their training ends) are not trained again, so the script can
be stopped and started again: it carries on with the next unfinished run.
Metrics go to `--metrics-dir` (committed), the pipelines to RUN_DIR (not).

python bench/kd_runs.py run project/training/kd-runs --plan gold:0,1,2 --plan structural:0,1,2
python bench/kd_runs.py summary bench/metrics/kd
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import typer
from table import mean_sd

app = typer.Typer(no_args_is_help=True)

PROJECT = Path(__file__).resolve().parent.parent / "project"
# score -> column title, in the order of the summary table
SCORES = {
    "ewt-test": [
        ("pos_acc", "EWT UPOS"),
        ("tag_acc", "XPOS"),
        ("dep_uas", "UAS"),
        ("dep_las", "LAS"),
        ("ents_f", "NER F"),
    ],
    "gum-test": [("pos_acc", "GUM UPOS"), ("dep_uas", "GUM UAS"), ("dep_las", "GUM LAS")],
}
AGREEMENT = [("tag", "agree tag"), ("labelled_head", "agree head+label")]
# minimum gains of a distilled student over gold-only (docs/methods.md, "Comparing
# methods: what 'beats' means")
GOLD_MARGINS = {"pos_acc": 0.2, "dep_las": 0.5}
# what each variant is: a KD method, with or without the unlabelled text, and
# the temperature
VARIANTS = {
    "gold": None,
    "structural": ("structural", True, 1.0),
    "structural-ewt": ("structural", False, 1.0),
    "structural-t2": ("structural", True, 2.0),
    "token": ("token", True, 1.0),
    "token-t2": ("token", True, 2.0),
    "local": ("local", True, 1.0),
    "local_scores": ("local_scores", True, 1.0),
    "local_scores_raw": ("local_scores_raw", True, 1.0),
    "local_scores_spread": ("local_scores_spread", True, 1.0),
    "hard": ("hard", True, 1.0),
}


def parse_plan(plan: List[str]) -> List[Tuple[str, int]]:
    """["gold:0,1", "token:0"] -> [("gold", 0), ("gold", 1), ("token", 0)]."""
    runs = []
    for item in plan:
        variant, _, seeds = item.partition(":")
        if variant not in VARIANTS or not seeds:
            raise typer.BadParameter(
                f"{item!r}: expected VARIANT:SEEDS, VARIANT one of {list(VARIANTS)}"
            )
        runs.extend((variant, int(seed)) for seed in seeds.split(","))
    return runs


def train_command(
    variant: str,
    seed: int,
    output: Path,
    *,
    teacher: Path,
    config: Path,
    corpus: Path,
    cache: Path,
    unlabelled: Path,
    steps: int,
) -> List[str]:
    """The project's train-baseline or distill command for this variant and seed."""
    common = [
        "--paths.train",
        str(corpus / "ewt-train.spacy"),
        "--paths.dev",
        str(corpus / "ewt-dev.spacy"),
        "--training.max_steps",
        str(steps),
        "--training.eval_frequency",
        "200",
        "--system.seed",
        str(seed),
    ]
    if VARIANTS[variant] is None:
        return [
            sys.executable,
            "-m",
            "spacy",
            "train",
            str(config),
            "--output",
            str(output),
            *common,
        ]
    method, with_text, temperature = VARIANTS[variant]
    return [
        sys.executable,
        "-m",
        "spacy_skd",
        "distill",
        str(teacher),
        str(config),
        str(output),
        "--method",
        method,
        "--kd-weight",
        "0.5",
        "--temperature",
        str(temperature),
        "--cache-dir",
        str(cache),
        f"--unlabelled={unlabelled if with_text else ''}",
        *common,
    ]


def evaluate(model: Path, name: str, corpus: Path, teacher: Path, metrics_dir: Path) -> None:
    for split in SCORES:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "spacy",
                "evaluate",
                str(model),
                str(corpus / f"{split}.spacy"),
                "--output",
                str(metrics_dir / f"{name}.{split}.json"),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "spacy_skd",
            "agreement",
            str(teacher),
            str(model),
            str(corpus / "ewt-test.spacy"),
            "--output",
            str(metrics_dir / f"{name}.agreement.json"),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


@app.command()
def run(
    run_dir: Path = typer.Argument(..., help="Where the trained pipelines go"),
    plan: List[str] = typer.Option(..., help="VARIANT:SEED,SEED,... (repeat the option)"),
    teacher: Path = typer.Option(PROJECT / "training/teacher-minilm/model-best"),
    config: Path = typer.Option(Path("configs/student_cnn.cfg")),
    corpus: Path = typer.Option(PROJECT / "corpus", help="Folder of the project's .spacy files"),
    cache: Path = typer.Option(PROJECT / "cache/teacher-minilm"),
    unlabelled: Path = typer.Option(PROJECT / "assets/unlabelled/gum-train.txt"),
    steps: int = typer.Option(4000),
    metrics_dir: Path = typer.Option(Path("bench/metrics/kd")),
) -> None:
    """Train and score each run of PLAN that has no metrics yet."""
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for variant, seed in parse_plan(plan):
        name = f"{variant}-s{seed}"
        if (metrics_dir / f"{name}.agreement.json").exists():
            typer.echo(f"{name}: done already")
            continue
        output = run_dir / name
        if not (output / "done").exists():
            if output.exists():
                shutil.rmtree(output)
            output.mkdir(parents=True)
            command = train_command(
                variant,
                seed,
                output,
                teacher=teacher,
                config=config,
                corpus=corpus,
                cache=cache,
                unlabelled=unlabelled,
                steps=steps,
            )
            typer.echo(f"{name}: training ({' '.join(command)})")
            start = time.time()
            with open(output / "train.log", "w") as log:
                subprocess.run(
                    command, check=True, stdout=log, stderr=subprocess.STDOUT, env=os.environ
                )
            (output / "done").write_text(f"{time.time() - start:.0f} seconds\n")
            shutil.copy(output / "train.log", metrics_dir / f"{name}.log")
        typer.echo(f"{name}: evaluating")
        evaluate(output / "model-best", name, corpus, teacher, metrics_dir)


def _score(metrics_dir: Path, name: str, split: str, key: str) -> Optional[float]:
    path = metrics_dir / f"{name}.{split}.json"
    if not path.exists():
        return None
    value = json.loads(path.read_text()).get(key)
    return None if value is None else 100 * value


@app.command()
def summary(
    metrics_dir: Path = typer.Argument(Path("bench/metrics/kd")),
) -> None:
    """Mean ± standard deviation over seeds of each variant (n = seeds found), and
    whether each distilled variant beats gold-only, and structural beats token KD,
    in UPOS and LAS on EWT test as docs/methods.md defines it."""
    names = sorted(p.name[: -len(".agreement.json")] for p in metrics_dir.glob("*.agreement.json"))
    by_variant: Dict[str, List[str]] = {}
    for name in names:
        by_variant.setdefault(name.rsplit("-s", 1)[0], []).append(name)
    columns = [(split, key, title) for split, keys in SCORES.items() for key, title in keys]
    columns += [("agreement", key, title) for key, title in AGREEMENT]
    typer.echo("| variant | n | " + " | ".join(title for *_, title in columns) + " |")
    typer.echo("|---" * (len(columns) + 2) + "|")
    values: Dict[Tuple[str, str, str], List[float]] = {}
    for variant, runs in by_variant.items():
        cells = []
        for split, key, _ in columns:
            found = [
                v for v in (_score(metrics_dir, run, split, key) for run in runs) if v is not None
            ]
            values[(variant, split, key)] = found
            cells.append(mean_sd(found))
        typer.echo(f"| {variant} | {len(runs)} | " + " | ".join(cells) + " |")
    # (variant, compared with, margins): distilled students against their gold-only
    # twin need the section's minimum gains too; structural against token KD not.
    comparisons = [(v, "gold", GOLD_MARGINS) for v in by_variant if v != "gold"]
    no_margin = {"pos_acc": 0.0, "dep_las": 0.0}
    comparisons += [("structural", "token", no_margin), ("structural-t2", "token-t2", no_margin)]
    for variant, other, margins in comparisons:
        if variant not in by_variant or other not in by_variant:
            continue
        verdicts = [
            _verdict(key, values[(variant, "ewt-test", key)], values[(other, "ewt-test", key)], m)
            for key, m in margins.items()
        ]
        typer.echo(f"\n{variant} vs {other}: " + "; ".join(verdicts))


def _verdict(key: str, ours: List[float], theirs: List[float], margin: float) -> str:
    """Whether the mean of `ours` beats that of `theirs` by more than twice the
    larger standard deviation and at least `margin` (3 seeds each needed)."""
    if len(ours) < 3 or len(theirs) < 3:
        return f"{key}: {len(ours)} and {len(theirs)} seeds, 3 needed"
    gain = statistics.mean(ours) - statistics.mean(theirs)
    needed = max(2 * max(statistics.stdev(ours), statistics.stdev(theirs)), margin)
    verdict = "beats" if gain > needed else "does not beat"
    return f"{key} {gain:+.2f} (needs > {needed:.2f}): {verdict}"


if __name__ == "__main__":
    app()
