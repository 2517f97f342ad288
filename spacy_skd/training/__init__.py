"""Training data for spacy-skd: converting gold corpora to spaCy `DocBin` files.

Importing this package pulls in spaCy (through `convert`); `spacy_skd` itself
stays cheap to import.
"""

from .convert import (
    DOC_ID_KEY,
    NER_STATUS_KEY,
    SENT_IDS_KEY,
    ConlluSentence,
    NerSentence,
    convert_corpus,
    fix_iob,
    join_ner,
    normalise_ner_tag,
    read_conllu,
    read_iob2,
    sentence_ids,
    sentences_to_docs,
)

__all__ = [
    "DOC_ID_KEY",
    "NER_STATUS_KEY",
    "SENT_IDS_KEY",
    "ConlluSentence",
    "NerSentence",
    "convert_corpus",
    "fix_iob",
    "join_ner",
    "normalise_ner_tag",
    "read_conllu",
    "read_iob2",
    "sentence_ids",
    "sentences_to_docs",
]
