"""Arc scores from the signed head-dependent distance, as a Thinc layer.

A biaffine scorer over CNN token vectors cannot tell a head two words away from
one twenty words away: the vectors carry no position. This layer adds, for every
arc, a score that each side's hidden state assigns to the arc's distance bucket,
so a determiner can prefer a head one to three words to its right."""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Optional, Tuple

import numpy
from thinc.api import Model
from thinc.types import Floats3d

# Upper bounds of the |head - dependent| buckets; past the last, one bucket.
MAGNITUDES = (1, 2, 3, 4, 5, 7, 10, 15, 20, 30)
# Bucket 0 is ROOT -> d; then the magnitude buckets, heads to the left first.
N_BUCKETS = 1 + 2 * (len(MAGNITUDES) + 1)


@lru_cache(maxsize=64)
def bucket_one_hot(n_nodes: int) -> numpy.ndarray:
    """`[n+1, n+1, N_BUCKETS]` float32 one-hot of the bucket of arc (h, d),
    node 0 = ROOT. The diagonal gets a bucket too; the structures ignore it."""
    nodes = numpy.arange(n_nodes)
    offset = nodes[:, None] - nodes[None, :]
    magnitude = numpy.searchsorted(numpy.asarray(MAGNITUDES), numpy.abs(offset))
    bucket = 1 + magnitude + (offset > 0) * (len(MAGNITUDES) + 1)
    bucket[0, :] = 0
    return numpy.eye(N_BUCKETS, dtype="f")[bucket]


def distance_scorer(nI: Optional[int] = None) -> Model:
    """Input (heads `[B, n, nI]`, dependents `[B, n, nI]`), output `[B, n, n]`:
    `out[b, h, d] = (heads[b, h] @ W_head + deps[b, d] @ W_dep + bias)[bucket(h, d)]`.
    Weights start at zero, so the layer starts as a no-op."""
    return Model(
        "distance_scorer",
        _forward,
        init=_init,
        dims={"nI": nI},
        params={"W_head": None, "W_dep": None, "b": None},
    )


def _init(model: Model, X: Optional[Tuple] = None, Y=None) -> None:
    if X is not None and not model.has_dim("nI"):
        model.set_dim("nI", X[0].shape[-1])
    width = model.get_dim("nI")
    model.set_param("W_head", model.ops.alloc2f(width, N_BUCKETS))
    model.set_param("W_dep", model.ops.alloc2f(width, N_BUCKETS))
    model.set_param("b", model.ops.alloc1f(N_BUCKETS))


def _forward(
    model: Model, X: Tuple[Floats3d, Floats3d], is_train: bool
) -> Tuple[Floats3d, Callable]:
    xp = model.ops.xp
    heads, deps = X
    batch, n, width = heads.shape
    one_hot = model.ops.asarray3f(bucket_one_hot(n))
    W_head, W_dep, b = (model.get_param(name) for name in ("W_head", "W_dep", "b"))
    # [n, B, K]: per node, each sentence's score for each bucket.
    head_logits = (heads.reshape(-1, width) @ W_head).reshape(batch, n, -1).transpose(1, 0, 2)
    dep_logits = (deps.reshape(-1, width) @ W_dep + b).reshape(batch, n, -1).transpose(1, 0, 2)
    head_part = xp.matmul(xp.ascontiguousarray(head_logits), one_hot.transpose(0, 2, 1))
    dep_part = xp.matmul(xp.ascontiguousarray(dep_logits), one_hot.transpose(1, 2, 0))
    scores = head_part.transpose(1, 0, 2) + dep_part.transpose(1, 2, 0)

    def backprop(d_scores: Floats3d) -> Tuple[Floats3d, Floats3d]:
        d_head_logits = xp.matmul(xp.ascontiguousarray(d_scores.transpose(1, 0, 2)), one_hot)
        d_dep_logits = xp.matmul(
            xp.ascontiguousarray(d_scores.transpose(2, 0, 1)), one_hot.transpose(1, 0, 2)
        )
        d_head_logits = d_head_logits.transpose(1, 0, 2).reshape(batch * n, -1)
        d_dep_logits = d_dep_logits.transpose(1, 0, 2).reshape(batch * n, -1)
        model.inc_grad("W_head", heads.reshape(-1, width).T @ d_head_logits)
        model.inc_grad("W_dep", deps.reshape(-1, width).T @ d_dep_logits)
        model.inc_grad("b", d_dep_logits.sum(axis=0))
        d_heads = (d_head_logits @ W_head.T).reshape(heads.shape)
        d_deps = (d_dep_logits @ W_dep.T).reshape(deps.shape)
        return d_heads, d_deps

    return scores, backprop
