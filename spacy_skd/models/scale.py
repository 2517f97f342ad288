"""A constant factor on a layer's input, registered for configs: in front of an
output layer it multiplies that layer's effective learning rate under Adam (the
step on W is about the learning rate whatever the gradient's scale, and the
output moves by factor * step). spaCy's own components (e.g. the `senter` on a
transformer) get no learn_rate_scale of their own; this gives them one."""

from __future__ import annotations

from typing import Callable, List, Tuple

from thinc.api import Model
from thinc.types import Floats2d


def scale(factor: float) -> Model[List[Floats2d], List[Floats2d]]:
    """`[n, width]` per doc, times `factor`."""
    if not factor > 0:
        raise ValueError(f"factor must be > 0, got {factor}")
    return Model("scale", _forward, attrs={"factor": factor})


def _forward(model: Model, X: List[Floats2d], is_train: bool) -> Tuple[List[Floats2d], Callable]:
    factor = model.attrs["factor"]

    def backprop(dY: List[Floats2d]) -> List[Floats2d]:
        return [d * factor for d in dY]

    return [x * factor for x in X], backprop
