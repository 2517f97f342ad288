"""The student side of hidden-state distillation: token vectors mapped to the
width of a teacher's transformer layer."""

from __future__ import annotations

from typing import List, Optional

from spacy.tokens import Doc
from thinc.api import Linear, Model, chain, with_array
from thinc.types import Floats2d


def build_hidden_projection(
    tok2vec: Model[List[Doc], List[Floats2d]], nO: Optional[int] = None
) -> Model[List[Doc], List[Floats2d]]:
    """`[n_tokens, nO]` per doc: a learned linear map of `tok2vec`'s vectors
    (usually a listener on the student's tok2vec) to the teacher's hidden width
    nO (set by the skd_distiller at initialize when None)."""
    projection = Linear(nO=nO)
    model = chain(tok2vec, with_array(projection))
    model.set_ref("tok2vec", tok2vec)
    model.set_ref("projection", projection)
    return model
