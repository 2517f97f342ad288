"""What distillation costs per training step, against gold-only training of the
same student, with the teacher's targets already in the cache (target: one epoch
of distillation costs at most 1.3x one epoch of gold-only training), and the
teacher's annotation throughput on its own.

Every variant (gold only, then the distiller with each method) is built from the
same student config, initialised on the same docs, and trained on the same
fixed batches of the train corpus. The distilled variants first make one untimed
pass over those batches, so every target is in the cache (the teacher runs
there, as in a first epoch); then the variants take turns, block by block, each
timing `--steps` `nlp.update` calls; the table gives each variant's median step
time over the blocks and its ratio to gold-only. Steps are spaCy's own
`Language.update`, so the ratio is that of an epoch of `spacy train` minus
evaluation.

Those blocks show a later epoch: the distiller keeps what the students' losses
derive from the teacher's scores (its marginals) per doc after the first
epoch. The "first epoch" column times a new pipeline of each variant on the
first `--steps` batches, its targets read from the disk cache (warm) but no
marginals kept yet: `--first-passes` such passes, the variants taking turns
(a new pipeline each time), and the median pass of each variant.

python bench/distill_overhead.py TEACHER corpus/ewt-train.spacy --config configs/student_cnn.cfg

`--batch-words 1000` times batches of the size the shipped configs' batcher grows to
(100 words at step 0, 1,000 from step 2,300 on), which most of a run's words go
through; the config's own batcher gives its first, small batches.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

import spacy
import torch
import typer
from spacy.tokens import DocBin
from spacy.training import Corpus
from spacy.training.batchers import minibatch_by_words
from spacy.util import load_config, load_model_from_config, registry
from thinc.api import Optimizer

from spacy_skd.teacher.annotate import annotate_corpus
from spacy_skd.training.distill import distillation_config


def build(config, teacher: str, method: str, cache_dir: str, examples) -> spacy.Language:
    if method != "gold":
        config = distillation_config(config, teacher, method=method, cache_dir=cache_dir)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    nlp.initialize(lambda: examples)
    return nlp


def main(
    teacher: str = typer.Argument(..., help="Teacher pipeline directory"),
    corpus: Path = typer.Argument(..., exists=True, dir_okay=False, help="Train .spacy corpus"),
    config_path: Path = typer.Option(Path("configs/student_cnn.cfg"), "--config"),
    methods: str = typer.Option("structural,local,local_scores,token,hard"),
    docs: int = typer.Option(400, help="Train docs the steps cycle through"),
    steps: int = typer.Option(20, help="Timed steps per variant per block"),
    blocks: int = typer.Option(3, help="Blocks per variant (turns taken in order)"),
    first_passes: int = typer.Option(
        3, help="First-epoch passes per variant (turns taken in order; a new pipeline each)"
    ),
    annotate_docs: int = typer.Option(200, help="Docs for the annotation throughput"),
    threads: int = typer.Option(2),
    batch_words: int = typer.Option(
        0, help="Words per batch (spacy.batch_by_words); 0: the config's own batcher"
    ),
) -> None:
    torch.set_num_threads(threads)
    config = load_config(config_path, interpolate=False)
    nlp = spacy.blank(config["nlp"]["lang"])
    examples = list(Corpus(str(corpus), gold_preproc=False)(nlp))[:docs]
    if batch_words:
        batches = list(minibatch_by_words(examples, size=batch_words, tolerance=0.2))
    else:
        batcher = registry.resolve({"b": load_config(config_path)["training"]["batcher"]})["b"]
        batches = list(batcher(examples))
    variants = ["gold"] + methods.split(",")
    with tempfile.TemporaryDirectory() as scratch:
        cache_dir = str(Path(scratch) / "cache")
        subset = Path(scratch) / "annotate.spacy"
        DocBin(docs=[eg.reference for eg in examples[:annotate_docs]]).to_disk(subset)
        words = sum(len(eg.reference) for eg in examples[:annotate_docs])
        start = time.perf_counter()
        annotate_corpus(teacher, subset, Path(scratch) / "throughput")
        annotate_seconds = time.perf_counter() - start
        pipelines: Dict[str, Tuple[spacy.Language, Optimizer]] = {}
        for variant in list(variants):
            typer.echo(f"building {variant}", err=True)
            try:
                nlp = build(config, teacher, variant, cache_dir, examples)
            except ValueError as error:
                typer.echo(f"{variant}: not run ({error})", err=True)
                variants.remove(variant)
                continue
            pipelines[variant] = (nlp, nlp.create_optimizer())
            if variant != "gold":
                for batch in batches:
                    nlp.update(batch, sgd=pipelines[variant][1])
        times: Dict[str, List[float]] = {v: [] for v in variants}
        for block in range(blocks):
            for variant in variants:
                nlp, optimizer = pipelines[variant]
                chosen = [batches[(block * steps + i) % len(batches)] for i in range(steps)]
                start = time.perf_counter()
                for batch in chosen:
                    nlp.update(batch, sgd=optimizer)
                times[variant].append((time.perf_counter() - start) / steps)
                typer.echo(
                    f"block {block + 1} {variant}: {1000 * times[variant][-1]:.1f} ms", err=True
                )
        pipelines.clear()
        passes: Dict[str, List[float]] = {v: [] for v in variants}
        for turn in range(first_passes):
            for variant in variants:
                nlp = build(config, teacher, variant, cache_dir, examples)
                optimizer = nlp.create_optimizer()
                start = time.perf_counter()
                for batch in batches[:steps]:
                    nlp.update(batch, sgd=optimizer)
                passes[variant].append((time.perf_counter() - start) / len(batches[:steps]))
                typer.echo(
                    f"first epoch, pass {turn + 1} {variant}: {1000 * passes[variant][-1]:.1f} ms",
                    err=True,
                )
                del nlp, optimizer
        first = {variant: statistics.median(passes[variant]) for variant in variants}
    gold = statistics.median(times["gold"])
    typer.echo(
        f"| variant | ms per step (median of {blocks} blocks of {steps}) | x gold-only "
        f"| first epoch: ms per step (median of {first_passes} passes of {steps} steps) "
        "| x gold-only |"
    )
    typer.echo("|---|---|---|---|---|")
    for variant in variants:
        median = statistics.median(times[variant])
        typer.echo(
            f"| {variant} | {1000 * median:.1f} | {median / gold:.2f} "
            f"| {1000 * first[variant]:.1f} | {first[variant] / first['gold']:.2f} |"
        )
    typer.echo(
        f"\nTeacher annotation: {annotate_docs} docs, {words} words in {annotate_seconds:.1f} s "
        f"= {words / annotate_seconds:,.0f} words/s (annotate_corpus, {threads} threads, "
        "including loading the teacher)"
    )


if __name__ == "__main__":
    typer.run(main)
