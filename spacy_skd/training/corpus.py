"""`spacy-skd.ChainedCorpus.v1`: several of spaCy's corpus readers as one train
corpus, e.g. a gold `spacy.Corpus.v1` and unlabelled text through spaCy's own
`spacy.PlainTextCorpus.v1` or `spacy.JsonlCorpus.v1`, so that unlabelled docs
reach the distiller (they add KD loss and no gold loss). spaCy's training loop
shuffles the examples of an epoch, so the readers mix."""

from __future__ import annotations

from typing import Callable, Iterator

from spacy.language import Language
from spacy.training import Example
from spacy.util import registry

Reader = Callable[[Language], Iterator[Example]]


@registry.readers("spacy-skd.ChainedCorpus.v1")
def create_chained_corpus(*readers: Callable) -> Reader:
    """readers: corpus readers (any of spaCy's), read one after the other; in a
    config, as numbered sub-sections `[corpora.train.*.gold]`, `[corpora.train.*.raw]`."""
    if not readers:
        raise ValueError("spacy-skd.ChainedCorpus.v1 needs at least one reader")

    def read(nlp: Language) -> Iterator[Example]:
        for reader in readers:
            yield from reader(nlp)

    return read
