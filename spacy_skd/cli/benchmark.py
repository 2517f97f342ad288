"""`spacy-skd benchmark`: words/s of a pipeline on a corpus (CPU, and GPU when
asked), written as JSON for the project's report."""

import json
from pathlib import Path

import typer


def benchmark(
    pipeline: Path = typer.Argument(..., exists=True, file_okay=False, help="Pipeline directory"),
    corpus: Path = typer.Argument(..., exists=True, dir_okay=False, help=".spacy corpus"),
    output: Path = typer.Option(..., "--output", "-o", dir_okay=False, help="JSON file to write"),
    repeats: int = typer.Option(3, min=1, help="Timed passes over the corpus (median)"),
    batch_size: int = typer.Option(256, "--batch-size", "-b", min=1, help="nlp.pipe batch size"),
    threads: int = typer.Option(2, min=1, help="torch threads on the CPU"),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="Also time on this GPU; -1: CPU only"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar"),
) -> None:
    """Time PIPELINE's nlp.pipe over CORPUS's texts and write the words/s to OUTPUT."""
    from ..evaluation.speed import benchmark_pipeline

    try:
        result = benchmark_pipeline(
            pipeline,
            corpus,
            repeats=repeats,
            batch_size=batch_size,
            threads=threads,
            gpu_id=gpu_id,
            quiet=quiet,
        )
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf8")
    typer.echo(f"{pipeline}: {result['cpu_words_per_second']:,.0f} words/s on the CPU")
