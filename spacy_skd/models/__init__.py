"""Thinc models of the spacy-skd components, registered as spaCy architectures."""

from spacy.util import registry

from .tagger import build_tagger_model

build_tagger_model_v1 = registry.architectures("spacy-skd.Tagger.v1")(build_tagger_model)

__all__ = ["build_tagger_model", "build_tagger_model_v1"]
