"""`spacy-skd demo`: distil a synthetic CRF teacher into CRF and softmax students
with each KD objective, and report how close each student gets.

Everything is made up on the spot (a random teacher over a small vocabulary),
so the demo needs no data or weights and runs in seconds; it exercises the same
`spacy_skd.structs` and `spacy_skd.losses` code the spaCy components use.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import typer
from torch import Tensor, nn

from ..losses import local_kd_loss, local_scores_loss, structural_kd_loss, token_kd_loss
from ..progress import progress_bar
from ..structs import LinearChainCRF, TokenSoftmax

# The losses compared; "local_per_position" is local_kd_loss normalised per position.
DEMO_METHODS = ("structural", "local", "local_per_position", "local_scores", "token", "hard")


@dataclass
class Batch:
    words: Tensor  # [B, N] word ids
    lengths: Tensor  # [B]


class Tagger(nn.Module):
    """Word-id emissions (a lookup table) with an optional CRF on top."""

    def __init__(self, n_words: int, n_labels: int, crf: bool, scale: float = 0.1):
        super().__init__()
        self.emissions = nn.Parameter(torch.randn(n_words, n_labels) * scale)
        self.transitions = nn.Parameter(torch.randn(n_labels, n_labels) * scale) if crf else None

    def forward(self, batch: Batch):
        emissions = self.emissions[batch.words]
        if self.transitions is None:
            return TokenSoftmax(emissions, batch.lengths)
        return LinearChainCRF(emissions, self.transitions, batch.lengths)


def make_batch(gen: torch.Generator, n_sents: int, n_words: int, max_len: int) -> Batch:
    lengths = torch.randint(3, max_len + 1, (n_sents,), generator=gen)
    words = torch.randint(0, n_words, (n_sents, max_len), generator=gen)
    return Batch(words, lengths)


def demo_loss(method: str, student, teacher) -> Tensor:
    """The loss of `method` as a per-token mean."""
    if method == "structural":
        return structural_kd_loss(student, teacher)
    if method == "local":
        return local_kd_loss(student, teacher)
    if method == "local_per_position":
        return local_kd_loss(student, teacher, normalise="per_position")
    if method == "local_scores":
        return local_scores_loss(student, teacher)
    if method == "hard":
        return -student.log_prob(teacher.argmax.clamp(min=0)).sum() / student.lengths.sum()
    # token: the teacher's per-token softmax of its emissions; its transitions
    # are ignored, which is what token-level KD loses on a CRF teacher
    return token_kd_loss(student_scores(student), teacher.emissions, student.lengths)


def student_scores(student) -> Tensor:
    return student.logits if isinstance(student, TokenSoftmax) else student.emissions


def evaluate(student_model: Tagger, teacher_model: Tagger, batch: Batch) -> tuple:
    """Exact KL(teacher || student) per token, and Viterbi agreement with the teacher."""
    with torch.no_grad():
        teacher, student = teacher_model(batch), student_model(batch)
        n_tokens = batch.lengths.sum()
        kl = (-(teacher.entropy) + student.log_partition - student.expected_score(teacher)).sum()
        gold = teacher.argmax
        agree = ((student.argmax == gold) & (gold >= 0)).sum()
    return float(kl / n_tokens), float(agree / n_tokens)


def run_demo(
    steps: int = 300,
    seed: int = 0,
    n_words: int = 40,
    n_labels: int = 6,
    max_len: int = 12,
    quiet: bool = True,
) -> list:
    """Train one student per (output layer, method) and return result rows; a
    progress bar over their steps unless `quiet`."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    teacher = Tagger(n_words, n_labels, crf=True, scale=2.0)
    train = make_batch(gen, 256, n_words, max_len)
    held_out = make_batch(gen, 256, n_words, max_len)
    students = [
        (layer, method)
        for layer in ("crf", "softmax")
        for method in DEMO_METHODS
        # local KD needs forward-backward on the CRF teacher: see local.py
        if not (layer == "softmax" and method.startswith("local"))
    ]
    rows = []
    with progress_bar(len(students) * steps, unit="step", quiet=quiet) as bar:
        for layer, method in students:
            bar.set_description(f"{layer} {method}")
            torch.manual_seed(seed + 1)
            student = Tagger(n_words, n_labels, crf=layer == "crf")
            optimizer = torch.optim.Adam(student.parameters(), lr=0.05)
            started = time.perf_counter()
            for _ in range(steps):
                optimizer.zero_grad()
                with torch.no_grad():
                    target = teacher(train)
                loss = demo_loss(method, student(train), target)
                loss.backward()
                optimizer.step()
                bar.update()
            seconds = time.perf_counter() - started
            kl, agreement = evaluate(student, teacher, held_out)
            rows.append((layer, method, kl, agreement, seconds))
    return rows


def demo(
    steps: int = typer.Option(300, help="Adam steps per student"),
    seed: int = typer.Option(0, help="Random seed"),
    threads: int = typer.Option(1, help="torch CPU threads (tiny tensors: 1 is fastest)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar"),
) -> None:
    """Distil a synthetic CRF teacher with every KD method and print the result."""
    torch.set_num_threads(threads)
    typer.echo(
        f"Distilling a random CRF teacher into CRF and softmax students ({steps} steps each)"
    )
    rows = run_demo(steps=steps, seed=seed, quiet=quiet)
    typer.echo("| student | method | KL(teacher||student)/token | agreement | seconds |")
    typer.echo("|---|---|---|---|---|")
    for layer, method, kl, agreement, seconds in rows:
        typer.echo(f"| {layer} | {method} | {kl:.4f} | {agreement:.3f} | {seconds:.1f} |")
