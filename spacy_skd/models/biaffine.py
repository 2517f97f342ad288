"""Biaffine pair scorer (Dozat & Manning 2017) as a Thinc layer."""

from __future__ import annotations

from typing import Callable, Optional, Tuple

from thinc.api import Model
from thinc.types import Floats3d, Floats4d


def biaffine(nO: Optional[int] = None, nI: Optional[int] = None) -> Model:
    """Scores every ordered pair of positions: input (heads `[B, n, nI]`,
    dependents `[B, n, nI]`), output `[B, n, n, nO]` with
    `out[b, i, j, o] = [h_i; 1] W_o [d_j; 1]`, so each side also gets a linear
    term and a bias. W starts at zero, like spaCy's output layers."""
    return Model(
        "biaffine",
        _forward,
        init=_init,
        dims={"nO": nO, "nI": nI},
        params={"W": None},
    )


def _init(model: Model, X: Optional[Tuple] = None, Y=None) -> None:
    if X is not None and not model.has_dim("nI"):
        model.set_dim("nI", X[0].shape[-1])
    n_in = model.get_dim("nI") + 1
    model.set_param("W", model.ops.alloc3f(model.get_dim("nO"), n_in, n_in))


def _with_bias(ops, x: Floats3d) -> Floats3d:
    return ops.xp.concatenate([x, ops.xp.ones(x.shape[:-1] + (1,), dtype=x.dtype)], axis=-1)


def _forward(
    model: Model, X: Tuple[Floats3d, Floats3d], is_train: bool
) -> Tuple[Floats4d, Callable]:
    xp = model.ops.xp
    W = model.get_param("W")
    heads, deps = (_with_bias(model.ops, x) for x in X)
    # [B, n, o, a]: each head's row of every label's matrix, then against dependents.
    heads_W = xp.einsum("bia,oac->bioc", heads, W, optimize=True)
    scores = xp.einsum("bioc,bjc->bijo", heads_W, deps, optimize=True)

    def backprop(d_scores: Floats4d) -> Tuple[Floats3d, Floats3d]:
        d_heads_W = xp.einsum("bijo,bjc->bioc", d_scores, deps, optimize=True)
        d_deps = xp.einsum("bijo,bioc->bjc", d_scores, heads_W, optimize=True)
        model.inc_grad("W", xp.einsum("bia,bioc->oac", heads, d_heads_W, optimize=True))
        d_heads = xp.einsum("bioc,oac->bia", d_heads_W, W, optimize=True)
        return d_heads[..., :-1], d_deps[..., :-1]

    return scores, backprop
