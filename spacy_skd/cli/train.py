"""`spacy-skd train`: spaCy's `train` that records its progress in every checkpoint
and, with `--resume`, continues an unfinished run from its model-last. Extra
`--section.key value` options override the config as in `spacy train`."""

from pathlib import Path
from typing import Optional

import typer

# shared with `spacy-skd distill`
INIT_FROM = typer.Option(
    None, exists=True, file_okay=False, help="Saved pipeline whose weights training starts from"
)
ANNEAL = typer.Option(
    False, "--anneal", help="Learning rate falling linearly to 0 over max_steps (a second stage)"
)


def train(
    ctx: typer.Context,
    config_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Config"),
    output_path: Path = typer.Argument(..., file_okay=False, help="Output directory"),
    resume: bool = typer.Option(
        False, "--resume", help="Continue an unfinished run in OUTPUT_PATH from its model-last"
    ),
    init_from: Optional[Path] = INIT_FROM,
    anneal: bool = ANNEAL,
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, -1 for CPU"),
) -> None:
    """Train the pipeline of CONFIG_PATH into OUTPUT_PATH (model-best, model-last)."""
    from spacy.cli._util import parse_config_overrides
    from spacy.util import load_config

    from ..training.initial_weights import with_second_stage
    from ..training.resume import train_pipeline  # imports spaCy: only when run

    config = load_config(config_path, overrides=parse_config_overrides(ctx.args), interpolate=False)
    try:
        config = with_second_stage(config, init_from, anneal)
        paths = [init_from] if init_from is not None else []
        train_pipeline(config, output_path, use_gpu=gpu_id, resume=resume, paths=paths)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
