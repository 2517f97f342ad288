"""`spacy-skd compare`: accuracy, words/s and size of pipelines on one corpus."""

from pathlib import Path
from typing import List, Optional

import typer


def compare(
    corpus: Path = typer.Argument(..., exists=True, dir_okay=False, help="Gold .spacy corpus"),
    pipelines: List[Path] = typer.Argument(..., exists=True, help="Pipeline directories"),
    names: Optional[str] = typer.Option(None, help="Comma-separated names for the table"),
    repeats: int = typer.Option(3, min=1, help="Timed passes over the corpus (median)"),
    plot: Optional[Path] = typer.Option(None, help="Write an accuracy-vs-speed PNG here"),
    metric: str = typer.Option("dep_las", help="The plot's accuracy score"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars"),
) -> None:
    """Evaluate PIPELINES on CORPUS and print a markdown table."""
    import torch

    from ..evaluation import compare_pipelines, markdown_table, plot_reports
    from ..evaluation.compare import METRICS
    from ..evaluation.speed import cpu_name

    try:
        reports = compare_pipelines(
            pipelines,
            corpus,
            names=names.split(",") if names else None,
            repeats=repeats,
            quiet=quiet,
        )
        typer.echo(markdown_table(reports))
        if plot is not None:
            title = (
                f"{corpus.name}: {dict(METRICS).get(metric, metric)} against CPU words/s\n"
                f"{cpu_name()}, {torch.get_num_threads()} torch thread(s)"
            )
            plot_reports(reports, plot, metric, title)
            typer.echo(f"Wrote {plot}", err=True)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
