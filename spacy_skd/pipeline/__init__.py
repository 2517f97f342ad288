"""spaCy components of spacy-skd (registered through setup.cfg entry points)."""

from .labeller import SequenceLabeller
from .ner import SkdNer, make_ner
from .parser import SkdParser, make_parser
from .tagger import SkdTagger, make_tagger, make_tagger_scorer

__all__ = [
    "SequenceLabeller",
    "SkdNer",
    "SkdParser",
    "SkdTagger",
    "make_ner",
    "make_parser",
    "make_tagger",
    "make_tagger_scorer",
]
