"""Teacher-student agreement: the share of tokens on which two pipelines make the
same prediction, each run on the corpus's own tokens (sentences from each
pipeline's own sentence setter, as at inference)."""

from __future__ import annotations

from itertools import zip_longest
from pathlib import Path
from typing import Callable, Dict, Iterable, List

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin

from ..progress import counted, progress_bar

# attribute name in the result -> how a token's prediction is read
ATTRIBUTES: Dict[str, Callable] = {
    "tag": lambda token: token.tag_,
    "pos": lambda token: token.pos_,
    "head": lambda token: token.head.i,
    "labelled_head": lambda token: (token.head.i, token.dep_),
    "ent": lambda token: (token.ent_iob_, token.ent_type_),
}
# which annotation of a doc says that its pipeline predicts the attribute
_SET = {
    "tag": lambda doc: any(token.tag for token in doc),
    "pos": lambda doc: any(token.pos for token in doc),
    "head": lambda doc: doc.has_annotation("DEP"),
    "labelled_head": lambda doc: doc.has_annotation("DEP"),
    "ent": lambda doc: doc.has_annotation("ENT_IOB"),
}


def token_docs(corpus: Path, nlp: Language) -> List[Doc]:
    """Unannotated docs with the words and spaces of a `.spacy` corpus's docs."""
    docs = []
    for doc in DocBin().from_disk(corpus).get_docs(nlp.vocab):
        words = [token.text for token in doc]
        spaces = [bool(token.whitespace_) for token in doc]
        docs.append(Doc(nlp.vocab, words=words, spaces=spaces))
    if not docs:
        raise ValueError(f"{corpus} holds no docs")
    return docs


def agreement_of(first: Iterable[Doc], second: Iterable[Doc]) -> Dict[str, float]:
    """For each attribute both pipelines predict, the share of tokens (of all
    docs) on which their predictions are identical: {"tag": 0.97, ...}. Docs are
    paired in order and must have the same words."""
    same: Dict[str, int] = {name: 0 for name in ATTRIBUTES}
    counted: Dict[str, int] = {name: 0 for name in ATTRIBUTES}
    for doc_a, doc_b in zip_longest(first, second):
        if doc_a is None or doc_b is None:
            raise ValueError("the pipelines gave different numbers of docs")
        if [t.text for t in doc_a] != [t.text for t in doc_b]:
            raise ValueError(f"the pipelines' docs differ in their words: {doc_a.text[:60]!r}")
        for name, read in ATTRIBUTES.items():
            if _SET[name](doc_a) and _SET[name](doc_b):
                same[name] += sum(read(a) == read(b) for a, b in zip(doc_a, doc_b))
                counted[name] += len(doc_a)
    return {name: same[name] / counted[name] for name in ATTRIBUTES if counted[name]}


def pipeline_agreement(
    teacher: str | Path,
    student: str | Path,
    corpus: Path,
    *,
    batch_size: int = 64,
    quiet: bool = False,
) -> Dict[str, float]:
    """Agreement of two saved pipelines on the tokens of `corpus` (see
    `agreement_of`); each pipeline runs on its own copy of the docs. A progress
    bar over the docs unless `quiet`."""
    teacher_nlp, student_nlp = spacy.load(teacher), spacy.load(student)
    docs = token_docs(corpus, student_nlp)
    teacher_docs = [Doc(teacher_nlp.vocab).from_bytes(doc.to_bytes()) for doc in docs]
    with progress_bar(len(docs), "agreement", quiet=quiet) as bar:
        return agreement_of(
            teacher_nlp.pipe(teacher_docs, batch_size=batch_size),
            counted(student_nlp.pipe(docs, batch_size=batch_size), bar),
        )
