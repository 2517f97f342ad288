"""Thinc models of the spacy-skd components, registered as spaCy architectures."""

from spacy.util import registry

from .parser import ParserScores, build_parser_model, sentence_spans
from .projection import build_hidden_projection
from .rows import scaled_rows
from .scale import scale
from .tagger import build_tagger_model

build_tagger_model_v1 = registry.architectures("spacy-skd.Tagger.v1")(build_tagger_model)
build_parser_model_v1 = registry.architectures("spacy-skd.BiaffineParser.v1")(build_parser_model)
scale_v1 = registry.layers("spacy-skd.scale.v1")(scale)
build_hidden_projection_v1 = registry.architectures("spacy-skd.HiddenProjection.v1")(
    build_hidden_projection
)
scaled_rows_v1 = registry.misc("spacy-skd.scaled_rows.v1")(scaled_rows)

__all__ = [
    "build_tagger_model",
    "build_tagger_model_v1",
    "build_parser_model",
    "build_parser_model_v1",
    "build_hidden_projection",
    "build_hidden_projection_v1",
    "scale",
    "scale_v1",
    "scaled_rows",
    "scaled_rows_v1",
    "ParserScores",
    "sentence_spans",
]
