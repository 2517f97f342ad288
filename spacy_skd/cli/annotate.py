"""`spacy-skd annotate`: run a teacher over a corpus once and store its targets in
the cache folder that the skd_distiller's `cache_dir` points at."""

import time
from pathlib import Path
from typing import List, Optional, Tuple

import typer

from ..text_files import MAX_LINE_CHARS


def annotate(
    teacher: str = typer.Argument(..., help="Teacher pipeline: a directory or a package name"),
    input_path: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="Corpus: .spacy, .txt (one doc a line) or .jsonl"
    ),
    output_dir: Path = typer.Argument(..., file_okay=False, help="Cache folder (cache_dir)"),
    batch_size: int = typer.Option(32, "--batch-size", "-b", min=1, help="Docs per teacher call"),
    n_process: int = typer.Option(1, "--n-process", "-n", min=1, help="Worker processes"),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="CUDA device for the teacher; -1: CPU"),
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
    max_line_chars: int = typer.Option(
        MAX_LINE_CHARS, "--max-line-chars", min=1, help="Characters a line of text may hold"
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar"),
    ray_address: Optional[str] = typer.Option(
        None,
        "--ray",
        metavar="ADDRESS",
        help="Run the teacher in actors on a Ray cluster: 'auto' (the cluster this machine "
        "joined, or RAY_ADDRESS), 'local' (start Ray here), HOST:PORT or ray://HOST:PORT",
    ),
    ray_actors: Optional[int] = typer.Option(
        None, "--ray-actors", min=1, help="Teacher actors (default: one per GPU, else per CPUs)"
    ),
    cpus_per_actor: int = typer.Option(
        1, "--ray-cpus-per-actor", min=1, help="CPUs (torch threads) per teacher actor"
    ),
    shard_size: int = typer.Option(
        256, "--shard-size", min=1, help="Docs per shard sent to an actor (--ray)"
    ),
) -> None:
    """Fill the teacher-target cache for a corpus, streaming it; rerun to resume
    after an interruption. The settings must be the distiller's (top_k,
    dense_up_to, hidden layers). The progress bar counts docs (annotated or found
    in the cache) against the corpus's line count (text) or its docs (.spacy). A
    bad line of text (not UTF-8, too long, not JSON) is an error naming the file
    and line; what was annotated stays in the cache."""
    settings = {
        "batch_size": batch_size,
        "gold_preproc": gold_preproc,
        "top_k": top_k,
        "dense_up_to": dense_up_to,
        "hidden_layers": hidden_layers,
        "max_line_chars": max_line_chars,
    }
    if ray_address is not None and (n_process > 1 or gpu_id >= 0):
        _fail("--ray runs the teacher in actors, one per GPU: leave out --n-process and --gpu-id")
    from ..progress import progress_bar  # imports tqdm: only when run
    from ..teacher.annotate import annotate_corpus, estimate_docs  # imports spaCy

    errors = (ValueError,) if ray_address is None else (ValueError, RuntimeError)
    with progress_bar(estimate_docs(input_path), desc="Annotating", quiet=quiet) as bar:
        progress = _Progress(bar)
        try:
            if ray_address is None:
                made, found = annotate_corpus(
                    teacher,
                    input_path,
                    output_dir,
                    n_process=n_process,
                    gpu_id=gpu_id,
                    progress=progress,
                    **settings,
                )
            else:
                from ..teacher.ray_annotate import annotate_corpus_on_ray  # imports Ray

                made, found = annotate_corpus_on_ray(
                    teacher,
                    input_path,
                    output_dir,
                    address=ray_address,
                    shard_size=shard_size,
                    actors=ray_actors,
                    cpus_per_actor=cpus_per_actor,
                    progress=progress,
                    **settings,
                )
        except errors as error:
            bar.close()
            _fail(str(error))
        bar.total = bar.n
    seconds = time.perf_counter() - progress.start
    typer.echo(
        f"Annotated {made} docs ({progress.words:,} words in {seconds:,.0f} s, the teacher's "
        f"loading included); {found} were already in {output_dir}"
    )


class _Progress:
    """Advances `bar` by the docs done (annotated or found in the cache) and shows
    the words annotated per second since the first report (so without the time
    the teacher took to load)."""

    def __init__(self, bar):
        self.bar = bar
        self.start = time.perf_counter()
        self.words = 0
        self._since: Optional[Tuple[float, int]] = None

    def __call__(self, docs: int, words: int, found: int) -> None:
        now = time.perf_counter()
        if self._since is None:
            self._since = (now, self.words + words)
        elif now > self._since[0]:
            rate = (self.words + words - self._since[1]) / (now - self._since[0])
            self.bar.set_postfix_str(f"{rate:,.0f} words/s", refresh=False)
        self.words += words
        self.bar.update(docs + found)


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)
