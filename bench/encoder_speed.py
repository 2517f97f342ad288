"""Words/s of a teacher's transformer encoder alone over a corpus's texts, on the
CPU: one forward pass, no heads, no gradient. It is what a teacher with that
encoder costs at the least, per word, to annotate; training costs several times
more (the backward pass, the heads, the dev evaluations). Several weights in one
run, timed in turns as `speed_ratio.py` times pipelines, so that their ratio
does not depend on the machine's load.

The encoder is the `transformer` block of the teacher config (its span getter,
batch limit and hidden states as `configs/teacher_trf.cfg` has them).

python bench/encoder_speed.py project/corpus/ewt-train.spacy "$(spacy-skd weights minilm)" \
    weights/mpnet/all-mpnet-base-v2 --docs 60 --rounds 3
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import spacy
import torch
import typer
from speed_ratio import compare_in_turns
from thinc.api import Config

from spacy_skd.evaluation.speed import corpus_texts

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
    corpus: Path = typer.Argument(..., exists=True, dir_okay=False, help=".spacy corpus"),
    weights: List[str] = typer.Argument(..., help="Transformer weights folders (paths.teacher)"),
    docs: int = typer.Option(60, min=1, help="How many of the corpus's docs"),
    rounds: int = typer.Option(3, min=1, help="Timed passes per encoder"),
    batch_size: int = typer.Option(64, "--batch-size", "-b", min=1),
    threads: int = typer.Option(2, min=1, help="torch threads"),
    config_path: Path = typer.Option(CONFIG, "--config", help="The teacher config"),
) -> None:
    torch.set_num_threads(threads)
    encoders = {name: build_encoder(name, config_path) for name in weights}
    texts = corpus_texts(corpus, next(iter(encoders.values())))[:docs]
    compare_in_turns(encoders, texts, rounds=rounds, batch_size=batch_size)


if __name__ == "__main__":
    typer.run(main)
