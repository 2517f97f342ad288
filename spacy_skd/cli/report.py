"""`spacy-skd report`: the spaCy project's markdown report and plot from its
metrics folder."""

from pathlib import Path
from typing import List, Optional

import typer

ROWS_HELP = (
    "One row per LABEL=NAME[,NAME...][@KIND]. Each NAME is a run with the files "
    "NAME.ewt-test.json, NAME.gum-test.json and NAME.speed.json, or a glob pattern "
    "of runs (e.g. 'baseline-cnn-s*' for every seed; quote it). A row of several runs "
    "(one per seed) shows mean ± sd and error bars; a LABEL given twice is one row. "
    "KIND sets the plot's marker and colour: teacher, stock (a stock spaCy pipeline), "
    "gold (a gold-only student) or distilled (a distilled student). Example: "
    "'distilled (cnn)=distilled-cnn-minilm-structural-s*@distilled'"
)


def report(
    output: Path = typer.Argument(..., dir_okay=False, help="Markdown file to write"),
    rows: List[str] = typer.Argument(..., help=ROWS_HELP, metavar="ROWS..."),
    metrics_dir: Path = typer.Option(Path("metrics"), help="Folder of the runs' files"),
    plot: Optional[Path] = typer.Option(None, help="Write the accuracy-vs-speed PNG here"),
    note: List[str] = typer.Option([], help="A paragraph to add under the table"),
) -> None:
    """Write the report of ROWS (teacher, students, stock pipelines...) to OUTPUT
    and print it: a table of scores, speed and size, and a plot of EWT test LAS
    against CPU words/s."""
    from ..evaluation.report import parse_rows, write_report

    try:
        parsed = parse_rows(rows)
        typer.echo(write_report(output, metrics_dir, parsed, plot=plot, notes=note))
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
