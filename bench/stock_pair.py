"""Save spaCy's stock efficiency tagger+parser (`spacy init config -p tagger,parser
-o efficiency`: HashEmbedCNN width 96, depth 4, no vectors), initialised on the
first 200 docs of a corpus, as the speed reference for `spacy benchmark speed`.

It is not trained: a greedy transition parser does the same work whatever its
weights, so its words/s stand for the trained pipeline's.

    python bench/stock_pair.py training/stock_pair corpus/ewt-dev.spacy
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import spacy
import typer
from spacy.cli.init_config import init_config
from spacy.tokens import DocBin
from spacy.training import Example


def main(
    output: Path = typer.Argument(..., help="Directory to write the pipeline to"),
    corpus: Path = typer.Argument(..., help="DocBin (.spacy) with tags and trees"),
) -> None:
    config = init_config(lang="en", pipeline=["tagger", "parser"], optimize="efficiency")
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    refs = list(islice(DocBin().from_disk(corpus).get_docs(nlp.vocab), 200))
    nlp.initialize(lambda: [Example(nlp.make_doc(ref.text), ref) for ref in refs])
    nlp.to_disk(output)
    typer.echo(f"Saved the stock tagger+parser to {output}")


if __name__ == "__main__":
    typer.run(main)
