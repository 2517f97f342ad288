"""A transformer teacher's hidden states, pooled from wordpieces to spaCy tokens."""

from __future__ import annotations

from typing import List, Sequence

import numpy
from spacy.tokens import Doc

from ..arrays import to_numpy


def pooled_hidden_states(doc: Doc, layers: Sequence[int]) -> List[numpy.ndarray]:
    """Per layer in `layers` (indices into the model's `hidden_states`: 0 = the
    embeddings, -1 = the last layer), the mean of each token's wordpiece vectors
    `[n_tokens, width]` (zeros for a token without wordpieces), from the
    `doc._.trf_data` a spacy-transformers `transformer` component set with
    `output_hidden_states` on."""
    if not Doc.has_extension("trf_data") or doc._.trf_data is None:
        raise ValueError(
            "hidden-state distillation needs a spacy-transformers 'transformer' in the "
            "teacher: the teacher's docs have no doc._.trf_data"
        )
    trf_data = doc._.trf_data
    states = trf_data.model_output.get("hidden_states")
    if states is None:
        raise ValueError(
            "the teacher's transformer returns no hidden states: set "
            'transformer_config = {"output_hidden_states": true} in its config'
        )
    lengths = to_numpy(trf_data.align.lengths, dtype="int64")
    rows = to_numpy(trf_data.align.dataXd, dtype="int64").ravel()
    owners = numpy.repeat(numpy.arange(len(lengths)), lengths)
    pooled = []
    for layer in layers:
        if not -len(states) <= layer < len(states):
            raise ValueError(f"layer {layer} does not exist: the teacher has {len(states)}")
        state = to_numpy(states[layer])
        flat = state.reshape(-1, state.shape[-1])
        sums = numpy.zeros((len(lengths), flat.shape[1]), dtype="float32")
        numpy.add.at(sums, owners, flat[rows])
        pooled.append(sums / numpy.maximum(lengths, 1)[:, None])
    return pooled
