"""Where two or more pipelines' UPOS (or XPOS) predictions differ: per gold label
accuracy and the most frequent confusions on a corpus, side by side.

Each pipeline reads the corpus's raw texts (as `spacy evaluate` does); a predicted
token is counted when spaCy's `Example.get_aligned` gives it a gold value (the
pieces of a gold token the tokenizer splits each count; a token spanning gold
tokens with different values is left out). `spacy evaluate` instead counts gold
tokens that do not align one-to-one as errors, so these accuracies are higher;
the tokenization is the same for every pipeline, so their differences are not.

    python bench/pos_errors.py project/corpus/ewt-test.spacy PIPELINE [PIPELINE ...] --attr pos
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

import spacy
import typer
from spacy.tokens import DocBin
from spacy.training import Example


def confusions(nlp, references: List, attr: str) -> Counter:
    """Counter of (gold, predicted) over the aligned tokens."""
    counts: Counter = Counter()
    texts = [doc.text for doc in references]
    for reference, predicted in zip(references, nlp.pipe(texts, batch_size=64)):
        example = Example(predicted, reference)
        gold = example.get_aligned(attr.upper(), as_string=True)
        for token, value in zip(predicted, gold):
            if value:
                counts[value, getattr(token, attr + "_")] += 1
    return counts


def per_label(counts: Counter) -> Dict[str, Tuple[int, int]]:
    """gold label -> (correct, total)."""
    table: Dict[str, List[int]] = {}
    for (gold, predicted), n in counts.items():
        entry = table.setdefault(gold, [0, 0])
        entry[1] += n
        if gold == predicted:
            entry[0] += n
    return {label: (c, t) for label, (c, t) in table.items()}


def main(
    corpus: Path = typer.Argument(..., help="A .spacy corpus with gold annotation"),
    pipelines: List[Path] = typer.Argument(..., help="Trained pipelines to compare"),
    attr: str = typer.Option("pos", help="'pos' (UPOS) or 'tag' (XPOS)"),
    top: int = typer.Option(12, help="How many confusions to list"),
) -> None:
    first = spacy.blank("en")
    references = list(DocBin().from_disk(corpus).get_docs(first.vocab))
    results = [confusions(spacy.load(p), references, attr) for p in pipelines]
    names = [p.parent.name if p.name.startswith("model-") else p.name for p in pipelines]
    tables = [per_label(c) for c in results]
    header = " | ".join(names)
    print(f"| gold {attr} | n | {header} |")
    print("|---|---|" + "---|" * len(names))
    for label in sorted(tables[0], key=lambda k: -tables[0][k][1]):
        total = tables[0][label][1]
        cells = " | ".join(f"{100 * t.get(label, (0, 1))[0] / max(total, 1):.2f}" for t in tables)
        print(f"| {label} | {total} | {cells} |")
    overall = [sum(c for c, _ in t.values()) / sum(n for _, n in t.values()) for t in tables]
    print(
        "| all | {} | {} |".format(
            sum(n for _, n in tables[0].values()), " | ".join(f"{100 * a:.2f}" for a in overall)
        )
    )
    print()
    errors = Counter()
    for counts in results:
        errors.update({k: v for k, v in counts.items() if k[0] != k[1]})
    print(f"| gold -> predicted | {header} |")
    print("|---|" + "---|" * len(names))
    for key, _ in errors.most_common(top):
        print(f"| {key[0]} -> {key[1]} | " + " | ".join(str(c[key]) for c in results) + " |")


if __name__ == "__main__":
    typer.run(main)
