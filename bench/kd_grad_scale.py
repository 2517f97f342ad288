"""How hard each KD method pulls on a student, against its gold loss: per student
component, the norm of the KD term's gradient with respect to the component's
scores (tagger/NER emissions `[B, N, L]`, parser arc scores `[S, n+1, n+1]`)
divided by the norm of the gold term's, on the same batch.

A component's loss is `(1 - alpha) * gold + alpha * KD`; it is computed once as
the component computes it and once with no targets (gold alone), and the KD
term's gradient is recovered from the two. The ratio is taken at two points of
training: the first `--steps` steps of a new student, and `--steps` steps after
`--warm-steps` steps of distillation with that method. Medians over the steps.

python bench/kd_grad_scale.py TEACHER corpus/ewt-train.spacy --cache-dir cache/teacher
"""

from __future__ import annotations

import inspect
import statistics
from pathlib import Path
from typing import Dict, List

import spacy
import torch
import typer
from spacy.training import Corpus
from spacy.training.batchers import minibatch_by_words
from spacy.util import load_config, load_model_from_config

import spacy_skd.pipeline.labeller as labeller_module
import spacy_skd.pipeline.parser as parser_module
from spacy_skd.training.distill import distillation_config

RATIOS: Dict[str, List[float]] = {}
RECORDING = [False]


def _caller_name() -> str:
    frame = inspect.currentframe().f_back.f_back
    return frame.f_locals["self"].name


def _record(name: str, total, gold_only, scores, alpha: float) -> None:
    g_total, g_gold = (
        torch.autograd.grad(loss, scores, retain_graph=True)[0] for loss in (total, gold_only)
    )
    g_kd = (g_total - (1.0 - alpha) * g_gold) / alpha
    RATIOS.setdefault(name, []).append(float(g_kd.norm() / g_gold.norm().clamp(min=1e-12)))


def _alpha(targets, key) -> float:
    weights = {key(t) for t in targets if t is not None}
    return weights.pop() if len(weights) == 1 else 0.0


def recording_sequence_loss(original):
    def wrapped(scores, lengths, crf, gold, targets, **kwargs):
        total = original(scores, lengths, crf, gold, targets, **kwargs)
        alpha = _alpha(targets, lambda t: t.weight)
        if RECORDING[0] and alpha > 0 and scores.requires_grad:
            gold_only = original(scores, lengths, crf, gold, [None] * len(targets), **kwargs)
            _record(_caller_name(), total, gold_only, scores, alpha)
        return total

    return wrapped


def recording_parser_loss(original):
    def wrapped(arcs, lengths, objective, heads, labels, at_gold, targets, at_teacher=None):
        total = original(arcs, lengths, objective, heads, labels, at_gold, targets, at_teacher)
        alpha = _alpha(targets, lambda t: t["weight"])
        if RECORDING[0] and alpha > 0 and arcs.requires_grad:
            nothing = [None] * len(targets)
            gold_only = original(arcs, lengths, objective, heads, labels, at_gold, nothing)
            _record(_caller_name(), total, gold_only, arcs, alpha)
        return total

    return wrapped


def main(
    teacher: str = typer.Argument(..., help="Teacher pipeline directory"),
    corpus: Path = typer.Argument(..., exists=True, dir_okay=False, help="Train .spacy corpus"),
    cache_dir: str = typer.Option(..., help="The teacher's (warm) target cache"),
    config_path: Path = typer.Option(Path("configs/student_cnn.cfg"), "--config"),
    methods: str = typer.Option("structural,token,local,local_scores"),
    docs: int = typer.Option(600, help="Train docs the steps cycle through"),
    steps: int = typer.Option(10, help="Recorded steps at each point"),
    warm_steps: int = typer.Option(150, help="Unrecorded steps between the two points"),
    batch_words: int = typer.Option(1000),
    threads: int = typer.Option(1),
) -> None:
    torch.set_num_threads(threads)
    labeller_module.sequence_loss = recording_sequence_loss(labeller_module.sequence_loss)
    parser_module.parser_loss = recording_parser_loss(parser_module.parser_loss)
    config = load_config(config_path, interpolate=False)
    examples = list(Corpus(str(corpus))(spacy.blank(config["nlp"]["lang"])))[:docs]
    batches = list(minibatch_by_words(examples, size=batch_words, tolerance=0.2))
    rows = []
    for method in methods.split(","):
        distill = distillation_config(config, teacher, method=method, cache_dir=cache_dir)
        nlp = load_model_from_config(distill, auto_fill=True, validate=True)
        nlp.initialize(lambda: examples)
        optimizer = nlp.create_optimizer()
        step = 0
        for point, unrecorded in (("new", 0), (f"after {warm_steps} steps", warm_steps)):
            RECORDING[0] = False
            for _ in range(unrecorded):
                nlp.update(batches[step % len(batches)], sgd=optimizer)
                step += 1
            RATIOS.clear()
            RECORDING[0] = True
            for _ in range(steps):
                nlp.update(batches[step % len(batches)], sgd=optimizer)
                step += 1
            medians = {name: statistics.median(values) for name, values in RATIOS.items()}
            typer.echo(f"{method}, {point}: {medians}", err=True)
            rows.append((method, point, medians))
    names = sorted({name for _, _, medians in rows for name in medians})
    typer.echo(f"| method | point | {' | '.join(names)} |")
    typer.echo("|---|---|" + "---|" * len(names))
    for method, point, medians in rows:
        cells = " | ".join(f"{medians[n]:.2f}" if n in medians else "-" for n in names)
        typer.echo(f"| {method} | {point} | {cells} |")


if __name__ == "__main__":
    typer.run(main)
