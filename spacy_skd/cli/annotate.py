"""`spacy-skd annotate`: run a teacher over a corpus once and store its targets in
the cache folder that the skd_distiller's `cache_dir` points at."""

from pathlib import Path
from typing import List

import typer


def annotate(
    teacher: str = typer.Argument(..., help="Teacher pipeline: a directory or a package name"),
    input_path: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Corpus: .spacy, .txt (one doc a line) or .jsonl"
    ),
    output_dir: Path = typer.Argument(..., file_okay=False, help="Cache folder (cache_dir)"),
    batch_size: int = typer.Option(32, "--batch-size", "-b", min=1, help="Docs per teacher call"),
    n_process: int = typer.Option(1, "--n-process", "-n", min=1, help="Worker processes"),
    gold_preproc: bool = typer.Option(
        False, "--gold-preproc", help="Gold tokens, as the corpus reader's gold_preproc"
    ),
    top_k: int = typer.Option(8, "--top-k", min=1, help="A parser's heads kept per word"),
    dense_up_to: int = typer.Option(
        64, "--dense-up-to", min=1, help="Sentence length up to which all arcs are kept"
    ),
    hidden_layers: List[int] = typer.Option(
        [], "--hidden-layer", help="Transformer layer to store, pooled to tokens (repeatable)"
    ),
) -> None:
    """Fill the teacher-target cache for a corpus; rerun to resume after an interruption.
    The settings must be the distiller's (top_k, dense_up_to, hidden layers)."""
    from ..teacher.annotate import annotate_corpus  # imports spaCy: only when run

    with typer.progressbar(length=_count(input_path), label="Annotating") as bar:
        try:
            made, found = annotate_corpus(
                teacher,
                input_path,
                output_dir,
                batch_size=batch_size,
                n_process=n_process,
                gold_preproc=gold_preproc,
                top_k=top_k,
                dense_up_to=dense_up_to,
                hidden_layers=hidden_layers,
                progress=bar.update,
            )
        except ValueError as error:
            typer.echo(f"\nerror: {error}", err=True)
            raise typer.Exit(1) from error
    typer.echo(f"Annotated {made} docs ({found} were already in {output_dir})")


def _count(path: Path) -> int:
    """Docs in the corpus, for the progress bar (an estimate for text files)."""
    if path.suffix.lower() == ".spacy":
        from spacy.tokens import DocBin

        try:
            return len(DocBin().from_disk(path))
        except ValueError:
            return 0
    with path.open(encoding="utf8") as lines:
        return sum(1 for line in lines if line.strip())
