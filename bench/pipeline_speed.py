"""CPU words/s of a trained pipeline against spaCy's stock efficiency tagger+parser,
in the same process, on the texts of a DocBin corpus.

The stock pair (`spacy init config -p tagger,parser -o efficiency`: HashEmbedCNN
width 96, depth 4, no vectors) is initialised on the first 200 docs but not
trained: a greedy transition parser does the same work whatever its weights.

    python bench/pipeline_speed.py training/student_cnn_gold/model-best corpus/ewt-dev.spacy
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import List

import spacy
import torch
import typer
from spacy.cli.init_config import init_config
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.training import Example


def words_per_second(nlp: Language, texts: List[str], n_words: int) -> float:
    list(nlp.pipe(texts[:20]))
    start = time.perf_counter()
    for _ in nlp.pipe(texts):
        pass
    return n_words / (time.perf_counter() - start)


def main(
    model: Path = typer.Argument(..., help="Trained pipeline directory"),
    corpus: Path = typer.Argument(..., help="DocBin (.spacy) whose texts are parsed"),
    repeats: int = typer.Option(3, help="Timed passes over the corpus; the median is reported"),
    threads: int = typer.Option(2, help="torch.set_num_threads"),
    only: str = typer.Option(
        "tok2vec,senter,tagger,parser",
        help="Also time the model with only these components (comma-separated); '' to skip",
    ),
) -> None:
    """Print words/s (median of the passes) for the model, the model restricted to
    `only`, and the stock pair, and the ratios."""
    torch.set_num_threads(threads)
    nlp = spacy.load(model)
    refs = list(DocBin().from_disk(corpus).get_docs(nlp.vocab))
    texts = [ref.text for ref in refs]
    n_words = sum(len(nlp.make_doc(text)) for text in texts)
    config = init_config(lang="en", pipeline=["tagger", "parser"], optimize="efficiency")
    stock = spacy.util.load_model_from_config(config, auto_fill=True)
    stock.initialize(lambda: [Example(stock.make_doc(r.text), r) for r in refs[:200]])
    subset = [name for name in only.split(",") if name in nlp.pipe_names]
    runs = {f"{model} (all: {', '.join(nlp.pipe_names)})": [], "stock tagger+parser": []}
    if subset:
        runs[f"{model} ({', '.join(subset)})"] = []
    for _ in range(repeats):
        for name in runs:
            if name == "stock tagger+parser":
                runs[name].append(words_per_second(stock, texts, n_words))
            elif name.endswith(f"({', '.join(subset)})"):
                with nlp.select_pipes(enable=subset):
                    runs[name].append(words_per_second(nlp, texts, n_words))
            else:
                runs[name].append(words_per_second(nlp, texts, n_words))
    stock_wps = statistics.median(runs["stock tagger+parser"])
    typer.echo(f"{n_words} words from {corpus}, {repeats} passes, torch threads {threads}")
    typer.echo("| pipeline | words/s | stock / this |")
    typer.echo("|---|---|---|")
    for name, values in runs.items():
        median = statistics.median(values)
        typer.echo(f"| {name} | {median:.0f} | {stock_wps / median:.2f} |")


if __name__ == "__main__":
    typer.run(main)
