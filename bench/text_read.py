"""What a distillation reads of its unlabelled text. Builds the training batches of
a saved `distill.cfg` as spaCy's training loop does (its mixed corpus reader and
batcher, `max_epochs = -1`) for `max_steps` steps, once for each unlabelled file
given in place of the config's, and prints the text words read and a digest of the
batches' texts: equal digests mean the runs train on the same batches.

    python bench/text_read.py project/training/RUN/distill.cfg TEXT [TEXT ...]
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import List, Optional

import spacy
import typer
from spacy.training.loop import create_train_batches
from spacy.util import load_config, registry, resolve_dot_names

import spacy_skd  # noqa: F401  (registers the readers)


def read_batches(config_path: Path, text: Path, steps: Optional[int]) -> tuple[int, int, str]:
    """The text words, gold words and the digest of the texts of the batches of
    steps 0 to `steps` (the config's max_steps when None) of `config_path`, its
    unlabelled text replaced by `text`."""
    config = load_config(config_path, overrides={"corpora.train.text.path": str(text)})
    config = config.interpolate()
    steps = config["training"]["max_steps"] if steps is None else steps
    (corpus,) = resolve_dot_names(config, ["corpora.train"])
    batcher = registry.resolve({"batcher": config["training"]["batcher"]})["batcher"]
    digest = hashlib.sha256()
    text_words = gold_words = 0
    batches = create_train_batches(spacy.blank(config["nlp"]["lang"]), corpus, batcher, -1)
    for step, (_, batch) in enumerate(batches):
        if step > steps:
            break
        for example in batch:
            digest.update(example.predicted.text.encode("utf8") + b"\x00")
            if example.reference.has_annotation("DEP"):
                gold_words += len(example.predicted)
            else:
                text_words += len(example.predicted)
    return text_words, gold_words, digest.hexdigest()[:16]


def main(
    config: Path = typer.Argument(..., help="A distillation's distill.cfg"),
    texts: List[Path] = typer.Argument(..., help="Unlabelled files to read in its place"),
    steps: Optional[int] = typer.Option(None, help="Steps to build (default: max_steps)"),
) -> None:
    for text in texts:
        text_words, gold_words, digest = read_batches(config, text, steps)
        words = f"{text_words:,} text words, {gold_words:,} gold words"
        typer.echo(f"{text}: {words}, batches {digest}")


if __name__ == "__main__":
    typer.run(main)
