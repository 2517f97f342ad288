"""Print a markdown table of `spacy evaluate --output` JSON files, one row each.

python bench/table.py training/metrics/*.json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

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


def main(
    files: List[Path] = typer.Argument(..., help="spacy evaluate --output JSON files"),
) -> None:
    typer.echo("| run | " + " | ".join(title for _, title in COLUMNS) + " |")
    typer.echo("|---" * (len(COLUMNS) + 1) + "|")
    for path in files:
        metrics = json.loads(path.read_text())
        cells = []
        for key, _ in COLUMNS:
            value = metrics.get(key)
            if value is None:
                cells.append("—")
            elif key == "speed":
                cells.append(f"{value:,.0f}")
            else:
                cells.append(f"{100 * value:.2f}")
        typer.echo(f"| {path.stem} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    typer.run(main)
