"""The `spacy-skd` command line (typer)."""

import typer

from .agreement import agreement
from .annotate import annotate
from .benchmark import benchmark
from .card import card
from .compare import compare
from .convert import convert
from .demo import demo
from .distill import distill
from .report import report
from .text import text
from .train import train
from .weights import weights

app = typer.Typer(
    help="spacy-skd: structural knowledge distillation for spaCy", no_args_is_help=True
)
app.command("demo")(demo)
app.command("convert")(convert)
app.command("annotate")(annotate)
app.command("compare")(compare)
app.command("weights")(weights)
app.command("text")(text)
app.command("benchmark")(benchmark)
app.command("report")(report)
app.command("card")(card)
app.command("agreement")(agreement)
app.command("distill", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    distill
)
app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    train
)


@app.callback()
def main() -> None:
    """spacy-skd: structural knowledge distillation for spaCy."""
