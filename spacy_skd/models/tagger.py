"""Thinc model of a sequence labeller: token vectors -> label scores, and for a
CRF output layer the transition scores it holds as parameters."""

from __future__ import annotations

from typing import List, Optional

from spacy.tokens import Doc
from thinc.api import Model, chain, with_array, zero_init
from thinc.layers import Linear
from thinc.types import Floats2d

OUTPUT_LAYERS = ("softmax", "crf")


def transitions_layer(n_labels: Optional[int] = None) -> Model[List[Floats2d], List[Floats2d]]:
    """Holds a CRF's transition `[L, L]` (`[previous, next]`), start `[L]` and end
    `[L]` scores as parameters; passes the emissions through unchanged. The
    component reads the parameters for its loss and adds their gradients."""
    return Model(
        "crf_transitions",
        _pass_through,
        init=_init_transitions,
        dims={"nO": n_labels},
        params={"transitions": None, "start": None, "end": None},
    )


def _pass_through(model: Model, emissions: List[Floats2d], is_train: bool):
    return emissions, lambda d_emissions: d_emissions


def _init_transitions(model: Model, X=None, Y=None) -> None:
    n_labels = model.get_dim("nO")
    model.set_param("transitions", model.ops.alloc2f(n_labels, n_labels))
    model.set_param("start", model.ops.alloc1f(n_labels))
    model.set_param("end", model.ops.alloc1f(n_labels))


def build_tagger_model(
    tok2vec: Model[List[Doc], List[Floats2d]],
    nO: Optional[int] = None,
    *,
    output_layer: str = "softmax",
) -> Model[List[Doc], List[Floats2d]]:
    """Label scores `[n_tokens, nO]` per doc from `tok2vec`'s token vectors: the
    logits of a softmax tagger or the emissions of a linear-chain CRF.

    tok2vec: the token-to-vector layer (or a listener). nO: the number of labels,
    inferred from the data at initialize when None. output_layer: "softmax" or
    "crf"; with "crf" the model holds the transition scores (ref "transitions").
    """
    if output_layer not in OUTPUT_LAYERS:
        raise ValueError(f"output_layer must be one of {OUTPUT_LAYERS}, got {output_layer!r}")
    output = Linear(nO=nO, init_W=zero_init)
    layers = [tok2vec, with_array(output)]
    if output_layer == "crf":
        layers.append(transitions_layer(nO))
    model = chain(*layers)
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("output_layer", output)
    if output_layer == "crf":
        model.set_ref("transitions", layers[-1])
    model.attrs["output_layer"] = output_layer
    return model
