"""`spacy-skd distill`: a student config + a teacher pipeline -> a trained student
that loads without the teacher. Extra `--section.key value` options override the
config as in `spacy train`."""

from pathlib import Path
from typing import List, Optional

import typer

from ..text_files import MAX_LINE_CHARS
from .train import ANNEAL, INIT_FROM


def distill(
    ctx: typer.Context,
    teacher: str = typer.Argument(..., help="Teacher pipeline: a directory or a package name"),
    config_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="Student config"),
    output_path: Path = typer.Argument(..., file_okay=False, help="Output directory"),
    method: str = typer.Option("structural", help="KD method of the skd_* students"),
    kd_weight: float = typer.Option(0.5, min=0.0, max=1.0, help="alpha: weight of KD vs gold"),
    temperature: float = typer.Option(1.0, min=1e-6, help="KD temperature"),
    students: Optional[str] = typer.Option(
        None, help="Comma-separated student components (default: all the teacher can teach)"
    ),
    cache_dir: Optional[Path] = typer.Option(None, help="Teacher-target cache folder"),
    unlabelled: str = typer.Option(
        "", help="Raw text (.txt, a doc a line, or .jsonl) the teacher also teaches on"
    ),
    gold_share: float = typer.Option(
        0.5, min=0.0, max=1.0, help="With --unlabelled: share of each batch's words from gold"
    ),
    max_line_chars: int = typer.Option(
        MAX_LINE_CHARS, "--max-line-chars", min=1, help="Characters a line of text may hold"
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue an unfinished run in OUTPUT_PATH from its model-last"
    ),
    memory_entries: Optional[int] = typer.Option(
        None, min=1, help="Docs whose teacher targets the distiller keeps in memory"
    ),
    hidden_layers: List[int] = typer.Option(
        [],
        "--hidden-layer",
        help="Teacher transformer layer (0 = embeddings, -1 = last) whose states the student's "
        "tok2vec also learns, averaged over the layers given (repeatable; hidden-state KD)",
    ),
    hidden_loss: str = typer.Option("mse", help="Hidden-state KD loss: mse or cosine"),
    hidden_weight: float = typer.Option(1.0, min=0.0, help="Weight of the hidden-state KD loss"),
    init_from: Optional[Path] = INIT_FROM,
    anneal: bool = ANNEAL,
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, -1 for CPU"),
) -> None:
    """Distil TEACHER into the student of CONFIG_PATH (spaCy's train, with an
    skd_distiller added; removed again from model-best and model-last)."""
    from spacy.cli._util import parse_config_overrides

    from ..training.distill import distill as run_distill  # imports spaCy: only when run

    try:
        run_distill(
            teacher,
            config_path,
            output_path,
            overrides=parse_config_overrides(ctx.args),
            use_gpu=gpu_id,
            method=method,
            kd_weight=kd_weight,
            temperature=temperature,
            students=students.split(",") if students else None,
            cache_dir=str(cache_dir) if cache_dir else None,
            unlabelled=unlabelled or None,
            gold_share=gold_share,
            max_line_chars=max_line_chars,
            resume=resume,
            memory_entries=memory_entries,
            hidden_layers=hidden_layers,
            hidden_loss=hidden_loss,
            hidden_weight=hidden_weight,
            init_from=str(init_from) if init_from else None,
            anneal=anneal,
        )
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
