"""`spacy-skd report`: the spaCy project's markdown report and plot from its
metrics folder."""

from pathlib import Path
from typing import List, Optional

import typer


def report(
    output: Path = typer.Argument(..., dir_okay=False, help="Markdown file to write"),
    runs: List[str] = typer.Argument(
        ..., help="LABEL=NAME per run: NAME.ewt-test.json, NAME.gum-test.json, NAME.speed.json"
    ),
    metrics_dir: Path = typer.Option(Path("metrics"), help="Folder of the runs' files"),
    plot: Optional[Path] = typer.Option(None, help="Write the accuracy-vs-speed PNG here"),
    note: List[str] = typer.Option([], help="A paragraph to add under the table"),
) -> None:
    """Write the report of RUNS (teacher, baseline, distilled...) to OUTPUT and print it."""
    from ..evaluation.report import write_report

    pairs = []
    for run in runs:
        label, sep, name = run.rpartition("=")
        if not sep or not label or not name:
            typer.echo(f"error: expected LABEL=NAME, got {run!r}", err=True)
            raise typer.Exit(1)
        pairs.append((label, name))
    try:
        typer.echo(write_report(output, metrics_dir, pairs, plot=plot, notes=note))
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
