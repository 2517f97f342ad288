"""spaCy components of spacy-skd (registered through setup.cfg entry points)."""

from .ner import SkdNer, make_ner
from .parser import SkdParser, make_parser
from .tagger import SequenceLabeller, SkdTagger, make_tagger, make_tagger_scorer
from .targets import ArcTargets, SequenceTargets

__all__ = [
    "SequenceLabeller",
    "SkdNer",
    "SkdParser",
    "make_parser",
    "ArcTargets",
    "SkdTagger",
    "make_ner",
    "make_tagger",
    "make_tagger_scorer",
    "SequenceTargets",
]
