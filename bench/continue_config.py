"""Write a config that continues training a saved pipeline: every component is
sourced from it (spaCy keeps sourced weights and resumes them instead of
initializing), everything else is the saved pipeline's own config.

    python bench/continue_config.py training/student_bilstm_s0/model-last continue.cfg
"""

from __future__ import annotations

from pathlib import Path

import typer
from spacy.util import load_config


def main(
    source: Path = typer.Argument(..., exists=True, file_okay=False, help="Saved pipeline"),
    output: Path = typer.Argument(..., dir_okay=False, help="Config to write"),
) -> None:
    config = load_config(source / "config.cfg", interpolate=False)
    for name in config["nlp"]["pipeline"]:
        config["components"][name] = {"source": str(source)}
    config.to_disk(output)
    typer.echo(f"Wrote {output}: {len(config['nlp']['pipeline'])} components from {source}")


if __name__ == "__main__":
    typer.run(main)
