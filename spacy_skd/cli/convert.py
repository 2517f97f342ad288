"""`spacy-skd convert`: a CoNLL-U treebank (optionally joined with IOB2 NER) to a
spaCy `.spacy` DocBin. The work is done by `spacy_skd.training.convert`."""

from pathlib import Path
from typing import Optional

import typer


def convert(
    input_path: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="CoNLL-U file (UD treebank)"
    ),
    output_path: Path = typer.Argument(..., dir_okay=False, help="Output .spacy file"),
    ner: Optional[Path] = typer.Option(
        None,
        "--ner",
        exists=True,
        dir_okay=False,
        help="IOB2 file with NER, joined on '# sent_id' (e.g. Universal NER)",
    ),
    n_sents: int = typer.Option(
        10, "--n-sents", "-n", min=1, help="Sentences per Doc (never across '# newdoc')"
    ),
) -> None:
    """Convert a CoNLL-U file (with --ner: joined with IOB2 NER) to a .spacy DocBin."""
    from ..training.convert import convert_corpus  # imports spaCy: only when run

    try:
        counts = convert_corpus(input_path, output_path, iob2_path=ner, n_sents=n_sents)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"Wrote {output_path}")
    for name, value in counts.items():
        typer.echo(f"{name}: {value}")
