"""spaCy components of spacy-skd (registered through setup.cfg entry points)."""

from .ner import SkdNer, make_ner
from .tagger import SequenceLabeller, SkdTagger, make_tagger, make_tagger_scorer
from .targets import SequenceTargets

__all__ = [
    "SequenceLabeller",
    "SkdNer",
    "SkdTagger",
    "make_ner",
    "make_tagger",
    "make_tagger_scorer",
    "SequenceTargets",
]
