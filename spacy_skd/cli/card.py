"""`spacy-skd card`: a copy of a distilled pipeline with its model card
(README.md) and meta.json's licence and sources, ready for `spacy package`."""

from pathlib import Path
from typing import Optional

import typer


def card(
    pipeline: Path = typer.Argument(..., exists=True, file_okay=False, help="Pipeline folder"),
    output: Path = typer.Argument(..., file_okay=False, help="Folder to write the copy to"),
    config: Path = typer.Option(
        ..., exists=True, dir_okay=False, help="The distillation config (distill.cfg)"
    ),
    data: Path = typer.Option(
        ..., exists=True, dir_okay=False, help="Markdown of the training data and licences"
    ),
    name: str = typer.Option(..., help="Package name, as for spacy package --name"),
    version: str = typer.Option(..., help="Package version"),
    run: str = typer.Option(..., help="The pipeline's metrics name (NAME.ewt-test.json...)"),
    teacher_run: Optional[str] = typer.Option(None, help="The teacher's metrics name"),
    twin_run: Optional[str] = typer.Option(None, help="The gold-only twin's metrics name"),
    metrics_dir: Path = typer.Option(Path("metrics"), help="Folder of the metrics files"),
    command: str = typer.Option(..., help="The command that reproduces the pipeline"),
) -> None:
    """Copy PIPELINE to OUTPUT with README.md, its model card (what it does, EWT
    test and GUM test scores, CPU speed beside the teacher's and the gold-only
    twin's, how it was distilled, training data and licences, the command that
    reproduces it), and meta.json's name, version, licence and sources set."""
    from ..evaluation.card import CardRuns, model_card, write_card

    try:
        written = model_card(
            pipeline,
            name=name,
            version=version,
            metrics_dir=metrics_dir,
            runs=CardRuns(run, teacher_run, twin_run),
            training_config=config,
            data_notes=data,
            command=command,
        )
        write_card(pipeline, output, written)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    for missing in written.left_out:
        typer.echo(f"not in the card: {missing}", err=True)
    typer.echo(f"wrote {output / 'README.md'} and {output / 'meta.json'}")
