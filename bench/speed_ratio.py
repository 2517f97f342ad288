"""Words/s of several pipelines on the same texts, timed in turns in one process,
so that a busy machine slows them alike and their ratios stay comparable: each
round times one `nlp.pipe` pass of every pipeline, in a rotating order, after an
untimed warm-up pass each; the table gives medians over the rounds and each
pipeline's time per word against the first's (and, with --output, a JSON file
of the same figures).

python bench/speed_ratio.py corpus/ewt-test.spacy training/stock/model-best \
    training/student/model-best --rounds 5
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Dict, List, Optional

import spacy
import srsly
import torch
import typer
from spacy.language import Language

from spacy_skd.evaluation.speed import corpus_texts, time_passes


def compare_in_turns(
    pipelines: Dict[str, Language], texts: List[str], *, rounds: int, batch_size: int
) -> Dict[str, List[float]]:
    """Time `rounds` passes of every pipeline over `texts` in turns (after an
    untimed warm-up pass each) and print the table, the first pipeline the
    reference. Returns each pipeline's words/s per round."""
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
    return speeds


def speed_summary(speeds: Dict[str, List[float]], *, n_texts: int, batch_size: int) -> dict:
    """The table's figures per pipeline (the first the reference), for a JSON file."""
    reference = statistics.median(next(iter(speeds.values())))
    return {
        "texts": n_texts,
        "batch_size": batch_size,
        "threads": torch.get_num_threads(),
        "pipelines": {
            name: {
                "words_per_second": statistics.median(rounds),
                "words_per_second_per_round": rounds,
                "time_per_word_vs_first": reference / statistics.median(rounds),
            }
            for name, rounds in speeds.items()
        },
    }


def main(
    corpus: Path = typer.Argument(..., exists=True, dir_okay=False, help=".spacy corpus"),
    pipelines: List[Path] = typer.Argument(..., help="Pipelines; the first is the reference"),
    rounds: int = typer.Option(5, min=1, help="Timed passes per pipeline"),
    batch_size: int = typer.Option(64, "--batch-size", "-b", min=1),
    threads: int = typer.Option(2, min=1, help="torch threads"),
    output: Optional[Path] = typer.Option(None, help="Also write the figures to this JSON file"),
) -> None:
    torch.set_num_threads(threads)
    loaded = {str(path): spacy.load(path) for path in pipelines}
    texts = corpus_texts(corpus, next(iter(loaded.values())))
    speeds = compare_in_turns(loaded, texts, rounds=rounds, batch_size=batch_size)
    if output is not None:
        summary = speed_summary(speeds, n_texts=len(texts), batch_size=batch_size)
        srsly.write_json(output, {"corpus": str(corpus), "rounds": rounds, **summary})


if __name__ == "__main__":
    typer.run(main)
