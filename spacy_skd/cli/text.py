"""`spacy-skd text`: a CoNLL-U file's raw sentences as plain text, one a line,
for distillation on unlabelled text (`spacy-skd distill --unlabelled`)."""

from pathlib import Path

import typer


def text(
    input_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="CoNLL-U file"),
    output_path: Path = typer.Argument(..., dir_okay=False, help="Output .txt file"),
) -> None:
    """Write the '# text =' lines of INPUT_PATH to OUTPUT_PATH, one sentence a line."""
    from ..training.convert import conllu_texts

    output_path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with output_path.open("w", encoding="utf8") as out:
        for sentence in conllu_texts(input_path):
            out.write(sentence + "\n")
            count += 1
    if not count:
        typer.echo(f"error: {input_path} has no '# text =' lines", err=True)
        raise typer.Exit(1)
    typer.echo(f"Wrote {count} sentences to {output_path}")
