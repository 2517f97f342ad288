"""spaCy components of spacy-skd (registered through setup.cfg entry points)."""

from .tagger import SkdTagger, make_tagger, make_tagger_scorer
from .targets import SequenceTargets

__all__ = ["SkdTagger", "make_tagger", "make_tagger_scorer", "SequenceTargets"]
