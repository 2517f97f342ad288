"""Words/s of a teacher's transformer encoder alone over a corpus's texts, on the
CPU: one forward pass, no heads, no gradient. It is what a teacher with that
encoder costs at the least, per word, to annotate and (about three times as
much with the backward pass) to train. Several weights in one run, in turns, so
that their ratio does not depend on the machine's load.

The encoder is the `transformer` block of the teacher config (its span getter,
batch limit and hidden states as `configs/teacher_trf.cfg` has them).

python bench/encoder_speed.py project/corpus/ewt-train.spacy "$(spacy-skd weights minilm)" weights/mpnet/all-mpnet-base-v2 --docs 60 --rounds 3
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Dict, List

import spacy
import torch
import typer
from spacy.tokens import DocBin
from thinc.api import Config

CONFIG = Path(__file__).resolve().parent.parent / "configs/teacher_trf.cfg"


def build_encoder(weights: str, config_path: Path) -> spacy.Language:
    """A pipeline of the config's `transformer` component alone, initialized with
    `weights`."""
    config = Config().from_disk(config_path, overrides={"paths.teacher": weights})
    settings = dict(config.interpolate()["components"]["transformer"])
    factory = settings.pop("factory")
    nlp = spacy.blank(config["nlp"]["lang"])
    nlp.add_pipe(factory, config=settings)
    nlp.initialize()
    return nlp


def main(
    corpus: Path = typer.Argument(..., help="A .spacy file; its first DOCS texts are encoded"),
    weights: List[str] = typer.Argument(..., help="Transformer weights folders (paths.teacher)"),
    docs: int = typer.Option(60, help="How many of the corpus's docs"),
    rounds: int = typer.Option(3, help="Timed passes per encoder, in turns"),
    batch_size: int = typer.Option(64),
    threads: int = typer.Option(2, help="torch threads"),
    config_path: Path = typer.Option(CONFIG, "--config", help="The teacher config"),
) -> None:
    torch.set_num_threads(threads)
    encoders = {name: build_encoder(name, config_path) for name in weights}
    vocab_nlp = next(iter(encoders.values()))
    texts = [doc.text for doc in list(DocBin().from_disk(corpus).get_docs(vocab_nlp.vocab))[:docs]]
    n_words = sum(len(vocab_nlp.make_doc(text)) for text in texts)
    for nlp in encoders.values():
        list(nlp.pipe(texts[:8]))  # warm-up, untimed
    typer.echo(f"{len(texts)} docs, {n_words} words, {threads} threads, {rounds} rounds")
    rates: Dict[str, List[float]] = {name: [] for name in weights}
    for _ in range(rounds):
        for name, nlp in encoders.items():
            start = time.perf_counter()
            for _doc in nlp.pipe(texts, batch_size=batch_size):
                pass
            rates[name].append(n_words / (time.perf_counter() - start))
    first = statistics.median(rates[weights[0]])
    typer.echo("| encoder | words/s (median) | min-max | time per word, x first |")
    typer.echo("|---|---|---|---|")
    for name, values in rates.items():
        median = statistics.median(values)
        typer.echo(
            f"| {name} | {median:,.0f} | {min(values):,.0f}-{max(values):,.0f} "
            f"| {first / median:.2f} |"
        )


if __name__ == "__main__":
    typer.run(main)
