"""Words/s of several pipelines on the same texts, timed in turns in one process,
so that a busy machine slows them alike and their ratios stay comparable: each
round times one `nlp.pipe` pass of every pipeline, in a rotating order, after an
untimed warm-up pass each; the table gives medians over the rounds and each
pipeline's time per word against the first's.

python bench/speed_ratio.py corpus/ewt-test.spacy training/stock/model-best \
    training/student/model-best --rounds 5
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Dict, List

import spacy
import torch
import typer
from spacy.language import Language

from spacy_skd.evaluation.speed import corpus_texts, time_passes


def compare_in_turns(
    pipelines: Dict[str, Language], texts: List[str], *, rounds: int, batch_size: int
) -> None:
    """Time `rounds` passes of every pipeline over `texts` in turns (after an
    untimed warm-up pass each) and print the table, the first pipeline the
    reference."""
    speeds: Dict[str, List[float]] = {name: [] for name in pipelines}
    for nlp in pipelines.values():
        time_passes(nlp, texts[:200], repeats=1, batch_size=batch_size)
    names = list(pipelines)
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            speeds[name] += time_passes(
                pipelines[name], texts, repeats=1, batch_size=batch_size, warmup=0
            )
        typer.echo(f"round {round_index + 1}/{rounds} done", err=True)
    reference = statistics.median(speeds[names[0]])
    typer.echo(
        f"{len(texts)} texts, batch size {batch_size}, {torch.get_num_threads()} thread(s), "
        f"{rounds} rounds"
    )
    typer.echo("| pipeline | words/s (median) | min-max | time per word, x the first |")
    typer.echo("|---|---|---|---|")
    for name in names:
        median = statistics.median(speeds[name])
        spread = f"{min(speeds[name]):,.0f}-{max(speeds[name]):,.0f}"
        typer.echo(f"| {name} | {median:,.0f} | {spread} | {reference / median:.2f} |")


def main(
    corpus: Path = typer.Argument(..., exists=True, dir_okay=False, help=".spacy corpus"),
    pipelines: List[Path] = typer.Argument(..., help="Pipelines; the first is the reference"),
    rounds: int = typer.Option(5, min=1, help="Timed passes per pipeline"),
    batch_size: int = typer.Option(64, "--batch-size", "-b", min=1),
    threads: int = typer.Option(2, min=1, help="torch threads"),
) -> None:
    torch.set_num_threads(threads)
    loaded = {str(path): spacy.load(path) for path in pipelines}
    texts = corpus_texts(corpus, next(iter(loaded.values())))
    compare_in_turns(loaded, texts, rounds=rounds, batch_size=batch_size)


if __name__ == "__main__":
    typer.run(main)
