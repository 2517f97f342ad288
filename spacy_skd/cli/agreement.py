"""`spacy-skd agreement`: how often a student predicts what its teacher does."""

import json
from pathlib import Path
from typing import Optional

import typer


def agreement(
    teacher: str = typer.Argument(..., help="Teacher pipeline: directory or package name"),
    student: str = typer.Argument(..., help="Student pipeline: directory or package name"),
    corpus: Path = typer.Argument(..., exists=True, dir_okay=False, help=".spacy corpus"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write JSON here"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar"),
) -> None:
    """Share of CORPUS's tokens on which STUDENT and TEACHER predict the same tag,
    POS, head, head and label, and entity tag (each on the corpus's tokens)."""
    from ..evaluation.agreement import pipeline_agreement

    try:
        result = pipeline_agreement(teacher, student, corpus, quiet=quiet)
    except (OSError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    for name, share in result.items():
        typer.echo(f"{name}: {100 * share:.2f}%")
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf8")
