"""What each KD method adds to a CRF tagger's loss step, alone: the time of
`sequence_loss` (gold + KD, forward and backward) per method against the gold
loss alone, on random scores of a batch shaped like a training batch, with the
teacher's memo warm (what the distiller keeps after the first epoch) or cold.

python bench/kd_loss_cost.py --docs 40 --tokens 25 --labels 50 --repeats 30
"""

from __future__ import annotations

import statistics
import time
from typing import Dict, List, Optional, Tuple

import numpy
import torch
import typer

from spacy_skd.pipeline.sequence_loss import sequence_loss
from spacy_skd.targets import SequenceTargets

TIMED_METHODS = ("structural", "token", "local", "local_scores", "hard")


def make_targets(lengths: torch.Tensor, n_labels: int, method: str, seed: int) -> List:
    """A CRF teacher's targets per doc (random scores)."""
    rng = numpy.random.default_rng(seed)
    transitions = rng.standard_normal((n_labels, n_labels)).astype("float32")
    zeros = numpy.zeros(n_labels, dtype="float32")
    return [
        SequenceTargets(
            rng.standard_normal((int(n), n_labels)).astype("float32"),
            method=method,
            transitions=transitions,
            start=zeros,
            end=zeros,
        )
        for n in lengths
    ]


def one_step(lengths, gold, n_labels: int, targets: Optional[List]) -> float:
    """Seconds of one gold + KD loss, forward and backward (no targets: gold only)."""
    batch, n_max = gold.shape
    scores = torch.randn(batch, n_max, n_labels, requires_grad=True)
    shapes = ((n_labels, n_labels), (n_labels,), (n_labels,))
    crf = tuple(torch.randn(*shape, requires_grad=True) for shape in shapes)
    start = time.perf_counter()
    sequence_loss(scores, lengths, crf, gold, targets or [None] * batch).backward()
    return time.perf_counter() - start


def main(
    docs: int = typer.Option(40, help="Docs in the batch"),
    tokens: int = typer.Option(25, help="Longest doc; lengths are drawn from [tokens / 2, tokens]"),
    labels: int = typer.Option(50, help="Labels of the CRF (EWT XPOS: 50)"),
    repeats: int = typer.Option(30, help="Timed steps per cell (after one untimed)"),
    threads: int = typer.Option(1),
    seed: int = typer.Option(0),
) -> None:
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    lengths = torch.randint(tokens // 2, tokens + 1, (docs,))
    lengths[0] = tokens
    gold = torch.randint(0, labels, (docs, tokens))
    # cell name -> (method or None for gold only, whether the memo is kept warm)
    cells: Dict[str, Tuple[Optional[str], bool]] = {"gold only": (None, False)}
    for method in TIMED_METHODS:
        cells[f"{method}, memo warm"] = (method, True)
        cells[f"{method}, memo cold"] = (method, False)
    medians: Dict[str, float] = {}
    for name, (method, warm) in cells.items():
        kept = make_targets(lengths, labels, method, seed) if method and warm else None
        times = []
        for _ in range(repeats + 1):
            targets = kept
            if method and not warm:
                targets = make_targets(lengths, labels, method, seed)
            times.append(one_step(lengths, gold, labels, targets))
        medians[name] = statistics.median(times[1:])
    print(f"batch: {docs} docs, {int(lengths.sum())} tokens, {labels} labels; {threads} thread(s)")
    print("| loss | median ms | x gold only |")
    print("|---|---|---|")
    for name, seconds in medians.items():
        print(f"| {name} | {1000 * seconds:.1f} | {seconds / medians['gold only']:.2f} |")


if __name__ == "__main__":
    typer.run(main)
