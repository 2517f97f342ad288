"""The `spacy-skd` command line (typer)."""

import typer

from .demo import demo

app = typer.Typer(
    help="spacy-skd: structural knowledge distillation for spaCy", no_args_is_help=True
)
app.command("demo")(demo)


@app.callback()
def main() -> None:
    """spacy-skd: structural knowledge distillation for spaCy."""
