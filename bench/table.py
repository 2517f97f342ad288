"""Print a markdown table of `spacy evaluate --output` JSON files, one row each,
or with `--seeds` one row per run name (the file name less its `-sN` seed
suffix): mean ± standard deviation over the seeds found.

python bench/table.py training/metrics/*.json
python bench/table.py bench/metrics/gold/*.json --seeds
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Dict, List

import typer

COLUMNS = [
    ("tag_acc", "XPOS"),
    ("pos_acc", "UPOS"),
    ("dep_uas", "UAS"),
    ("dep_las", "LAS"),
    ("sents_f", "sents F"),
    ("ents_f", "NER F"),
    ("speed", "words/s (evaluate)"),
]
SCORES = [column for column in COLUMNS if column[0] != "speed"]


def main(
    files: List[Path] = typer.Argument(..., help="spacy evaluate --output JSON files"),
    seeds: bool = typer.Option(False, help="one row per run name, mean ± sd over its seeds"),
) -> None:
    columns = SCORES if seeds else COLUMNS
    first = "| run | n | " if seeds else "| run | "
    typer.echo(first + " | ".join(title for _, title in columns) + " |")
    typer.echo("|---" * (len(columns) + 1 + seeds) + "|")
    if not seeds:
        for path in files:
            metrics = json.loads(path.read_text())
            cells = " | ".join(_cell(metrics, key) for key, _ in columns)
            typer.echo(f"| {path.stem} | {cells} |")
        return
    groups: Dict[str, List[dict]] = {}
    for path in files:
        groups.setdefault(path.stem.rsplit("-s", 1)[0], []).append(json.loads(path.read_text()))
    for name, runs in groups.items():
        cells = [
            mean_sd([100 * run[key] for run in runs if run.get(key) is not None])
            for key, _ in columns
        ]
        typer.echo(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")


def mean_sd(values: List[float]) -> str:
    """The text "mean ± sd" of `values`, the value alone for one, "—" for none."""
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def _cell(metrics: dict, key: str) -> str:
    value = metrics.get(key)
    if value is None:
        return "—"
    if key == "speed":
        return f"{value:,.0f}"
    return f"{100 * value:.2f}"


if __name__ == "__main__":
    typer.run(main)
