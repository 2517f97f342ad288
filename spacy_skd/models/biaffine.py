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
    batch, n_heads, width = heads.shape
    # Contiguous operands throughout, so that numpy hands every product to BLAS.
    deps_T = xp.ascontiguousarray(deps.transpose(0, 2, 1))
    heads_W = [(heads.reshape(-1, width) @ W[o]).reshape(batch, n_heads, -1) for o in range(len(W))]
    scores = xp.stack([xp.matmul(hw, deps_T) for hw in heads_W], axis=-1)

    def backprop(d_scores: Floats4d) -> Tuple[Floats3d, Floats3d]:
        d_heads = xp.zeros_like(heads)
        d_deps = xp.zeros_like(deps)
        d_W = xp.zeros_like(W)
        for o, hw in enumerate(heads_W):
            d_o = xp.ascontiguousarray(d_scores[..., o])
            d_hw = xp.matmul(d_o, deps)
            d_deps += xp.matmul(xp.ascontiguousarray(d_o.transpose(0, 2, 1)), hw)
            d_W[o] = heads.reshape(-1, width).T @ d_hw.reshape(-1, width)
            d_heads += (d_hw.reshape(-1, width) @ W[o].T).reshape(heads.shape)
        model.inc_grad("W", d_W)
        return d_heads[..., :-1], d_deps[..., :-1]

    return scores, backprop
