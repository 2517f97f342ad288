"""How fast `spacy-skd annotate` fills a cache, and how large the cache grows:
the first `--lines` lines of a text corpus annotated in one run by one process,
by `--n-process 2` and by Ray with 2 CPU actors on a local Ray (started before
the clock runs), each into a fresh temporary cache.

Per variant: words/s over the whole call (the teacher's loading included; for
Ray the actors' start, not Ray's), when the first batch or shard was reported
and words/s from then on (annotation alone, once there are many reports); Ray's
overhead as its time over that of `--n-process 2`; the cache's bytes on disk per
teacher word and per corpus word (`wc -w`), and the size a cache of the whole
corpus would have at that rate. Words are the teacher's tokens unless said
otherwise. Each n-process worker and each Ray actor gets half the cores as
torch threads.

python bench/annotate_speed.py TEACHER project/assets/unlabelled/transfer-mix.txt --lines 2000
"""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import typer

from spacy_skd.teacher.annotate import annotate_corpus


class Clock:
    """Words and times of a run's progress reports: the whole call, and from the
    first report on (so without the teacher's loading and the first batch)."""

    def __init__(self):
        self.start = time.perf_counter()
        self.words = 0
        self.reports = 0
        self.first: Tuple[float, int] = (0.0, 0)
        self.end = self.start

    def __call__(self, docs: int, words: int, found: int) -> None:
        self.words += words
        self.reports += 1
        self.end = time.perf_counter()
        if self.reports == 1:
            self.first = (self.end, self.words)

    def seconds(self) -> float:
        return self.end - self.start

    def steady_rate(self) -> float:
        seconds = self.end - self.first[0]
        return (self.words - self.first[1]) / seconds if seconds > 0 else float("nan")


def cache_bytes(cache_dir: Path) -> int:
    """Bytes of the entry files under `cache_dir`."""
    return sum(path.stat().st_size for path in cache_dir.glob("v*/*.npz"))


def corpus_words(path: Path, lines: int = 0) -> int:
    """Whitespace-separated words (as `wc -w`) of the first `lines` lines (0: all)."""
    words = 0
    with path.open(encoding="utf8") as text:
        for number, line in enumerate(text, 1):
            words += len(line.split())
            if number == lines:
                break
    return words


def main(
    teacher: str = typer.Argument(..., help="Teacher pipeline directory"),
    corpus: Path = typer.Argument(..., exists=True, dir_okay=False, help="A .txt corpus"),
    lines: int = typer.Option(2000, help="Lines of the corpus annotated by each variant"),
    batch_size: int = typer.Option(32, help="Docs per teacher call"),
    shard_size: int = typer.Option(256, help="Docs per Ray shard"),
    output: Path = typer.Option(Path("bench/metrics/annotate_speed.txt"), help="Results file"),
) -> None:
    import ray
    import torch

    from spacy_skd.teacher.ray_annotate import RayAnnotator

    command = "python " + " ".join(shlex.quote(arg) for arg in sys.argv)
    sample_words = corpus_words(corpus, lines)
    all_words = corpus_words(corpus)
    runs: Dict[str, Tuple[Clock, int]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        sample = Path(scratch) / "sample.txt"
        with corpus.open(encoding="utf8") as text:
            sample.write_text("".join(line for _, line in zip(range(lines), text)))

        def run(name: str, annotate: Callable[[Path, Clock], None]) -> None:
            cache = Path(scratch) / name.replace(" ", "-")
            clock = Clock()
            annotate(cache, clock)
            runs[name] = (clock, cache_bytes(cache))
            typer.echo(f"{name}: {clock.words:,} words in {clock.seconds():.1f} s", err=True)

        options = {"batch_size": batch_size}
        run(
            "one process",
            lambda cache, clock: annotate_corpus(teacher, sample, cache, progress=clock, **options),
        )
        run(
            "n-process 2",
            lambda cache, clock: annotate_corpus(
                teacher, sample, cache, n_process=2, progress=clock, **options
            ),
        )
        threads = max(1, (os.cpu_count() or 1) // 2)  # what each n-process worker gets
        ray.init(
            num_cpus=2 * threads,
            object_store_memory=200 * 1024 * 1024,
            include_dashboard=False,
            log_to_driver=False,
        )

        def on_ray(cache: Path, clock: Clock) -> None:
            with RayAnnotator(teacher, cache, actors=2, cpus_per_actor=threads) as annotator:
                annotator.annotate(sample, shard_size=shard_size, progress=clock, **options)

        run("ray 2 actors", on_ray)
        ray.shutdown()
    report = table(runs, sample_words, all_words)
    header = [
        f"# {command}",
        f"# {lines:,} lines of {corpus.name} ({sample_words:,} corpus words), batch size "
        f"{batch_size}, Ray shard size {shard_size}; {os.cpu_count()} CPU cores: one process "
        f"with {torch.get_num_threads()} torch threads, each worker or actor {threads}",
    ]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text("\n".join(header + report) + "\n")
    typer.echo("\n".join(report))


def table(runs: Dict[str, Tuple[Clock, int]], sample_words: int, all_words: int) -> List[str]:
    """The results as Markdown lines."""
    rows = [
        "| variant | teacher words | seconds | words/s | x n-process 2 time | first report (s) "
        "| reports | words/s after the first report | cache bytes | bytes per teacher word |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    on_ray, pool = runs["ray 2 actors"][0], runs["n-process 2"][0]
    for name, (clock, size) in runs.items():
        rows.append(
            f"| {name} | {clock.words:,} | {clock.seconds():.1f} "
            f"| {clock.words / clock.seconds():,.0f} | {clock.seconds() / pool.seconds():.2f} "
            f"| {clock.first[0] - clock.start:.1f} | {clock.reports} "
            f"| {clock.steady_rate():,.0f} | {size:,} | {size / clock.words:,.0f} |"
        )
    clock, size = runs["one process"]
    per_word = size / sample_words
    rows += [
        "",
        f"Ray's overhead on one machine: {on_ray.seconds() / pool.seconds():.2f}x the time of "
        "n-process 2 over the whole call (the actors' start included), "
        f"{pool.steady_rate() / on_ray.steady_rate():.2f}x after the first report "
        f"({on_ray.reports} reports of Ray's, {pool.reports} of n-process 2's).",
        f"Cache on disk: {size / clock.words:,.0f} bytes per teacher word, {per_word:,.0f} "
        f"per corpus word; the whole corpus ({all_words:,} corpus words) would take "
        f"about {_in_units(per_word * all_words)}.",
    ]
    return rows


def _in_units(size: float) -> str:
    return f"{size / 1e9:,.1f} GB" if size >= 1e9 else f"{size / 1e6:,.1f} MB"


if __name__ == "__main__":
    typer.run(main)
