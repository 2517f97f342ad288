"""`spacy-skd text`: raw text for distillation on unlabelled text (`spacy-skd
distill --unlabelled`), one doc a line: a CoNLL-U file's sentences, or the first
docs of a plain-text or JSONL file (of a shuffled file, a random sample of it)."""

import filecmp
from pathlib import Path
from typing import Optional

import typer

from ..text_files import MAX_LINE_CHARS, read_texts

ALL = "all"


def word_count(value: str) -> Optional[int]:
    """`--max-words`: "all" (None) or a number of words >= 0."""
    if value == ALL:
        return None
    if not value.isdigit():
        raise typer.BadParameter(f"'{value}' is neither '{ALL}' nor a number of words >= 0")
    return int(value)


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
    max_line_chars: int = typer.Option(
        MAX_LINE_CHARS, "--max-line-chars", min=1, help="Characters a line of text may hold"
    ),
) -> None:
    """Write the docs of INPUT_PATH to OUTPUT_PATH, one a line: the '# text =' lines
    of a .conllu file, the texts of a .jsonl file, the non-empty lines of any other
    file; with --max-words N, the first docs up to N words in all. A bad line (not
    UTF-8, too long, not JSON) is an error naming the file and line; OUTPUT_PATH is
    only replaced when the command succeeds, and kept as it is (its modification
    time too) when it already holds the same docs."""
    from ..training.convert import conllu_texts

    is_conllu = input_path.suffix.lower() == ".conllu"
    if is_conllu:
        docs = conllu_texts(input_path, max_line_chars)
    else:
        docs = (doc for _, doc in read_texts(input_path, max_line_chars))
    output_path.parent.mkdir(parents=True, exist_ok=True)
    partial = output_path.with_name(f".{output_path.name}.partial")
    n_docs = n_words = 0
    empty = True
    try:
        with partial.open("w", encoding="utf8") as out:
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
            raise ValueError(f"{input_path} has no {kind}")
        # an unchanged output keeps its modification time: a resumed run that
        # reads it (`distill --resume`) still sees the same data
        unchanged = output_path.is_file() and filecmp.cmp(partial, output_path, shallow=False)
        if not unchanged:
            partial.replace(output_path)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        partial.unlink(missing_ok=True)
    verb = "Kept the same" if unchanged else "Wrote"
    typer.echo(f"{verb} {n_docs} docs ({n_words} words) in {output_path}")
