"""`spacy-skd text`: raw text for distillation on unlabelled text (`spacy-skd
distill --unlabelled`), one doc a line: a CoNLL-U file's sentences, or the first
lines of a plain-text file (of a shuffled file, a random sample of it)."""

from pathlib import Path
from typing import Iterator, Optional

import typer

ALL = "all"


def word_count(value: str) -> Optional[int]:
    """`--max-words`: "all" (None) or a number of words >= 0."""
    if value == ALL:
        return None
    if not value.isdigit():
        raise typer.BadParameter(f"'{value}' is neither '{ALL}' nor a number of words >= 0")
    return int(value)


def lines_of(path: Path) -> Iterator[str]:
    """The non-empty lines of a plain-text file, stripped, in file order."""
    with path.open(encoding="utf8") as lines:
        for line in lines:
            line = line.strip()
            if line:
                yield line


def text(
    input_path: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="CoNLL-U file, or plain text with a doc a line"
    ),
    output_path: Path = typer.Argument(..., dir_okay=False, help="Output .txt file"),
    max_words: Optional[int] = typer.Option(
        ALL,
        "--max-words",
        parser=word_count,
        metavar="N|all",
        help="Keep the longest prefix of docs with at most N words (whitespace-separated)",
    ),
) -> None:
    """Write the docs of INPUT_PATH to OUTPUT_PATH, one a line: the '# text =' lines
    of a .conllu file, the non-empty lines of any other file; with --max-words N, the
    first docs up to N words in all."""
    from ..training.convert import conllu_texts

    is_conllu = input_path.suffix.lower() == ".conllu"
    docs = conllu_texts(input_path) if is_conllu else lines_of(input_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    n_docs = n_words = 0
    empty = True
    with output_path.open("w", encoding="utf8") as out:
        for doc in docs:
            empty = False
            doc_words = len(doc.split())
            if max_words is not None and n_words + doc_words > max_words:
                break
            out.write(doc + "\n")
            n_docs += 1
            n_words += doc_words
    if empty:
        kind = "'# text =' lines" if is_conllu else "non-empty lines"
        typer.echo(f"error: {input_path} has no {kind}", err=True)
        raise typer.Exit(1)
    typer.echo(f"Wrote {n_docs} docs ({n_words} words) to {output_path}")
