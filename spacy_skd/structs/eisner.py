"""Eisner's algorithm over projective dependency trees, in any of two semirings.

Spans (i, j), i < j, over nodes 0..n (0 = ROOT), with four charts:
  incomplete right  IR(i, j): arc i -> j, the words between attached
  incomplete left   IL(i, j): arc j -> i
  complete right    CR(i, j): head i, covering i..j
  complete left     CL(i, j): head j, covering i..j
Each chart is a list over span widths w of `[B, N+1]` tensors, indexed either
by the span's start (`*_by_start[w][:, i]` = X(i, i+w)) or by its end
(`*_by_end[w][:, j]` = X(j-w, j)); with both, every split of a width-w span is
a stack of w such tensors sliced once, with no in-place writes (so autograd
through the chart is safe).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from .utils import NEG

Reduce = Callable[[Tensor, int], Tensor]


def logsumexp_reduce(values: Tensor, dim: int) -> Tensor:
    return torch.logsumexp(values, dim=dim)


def max_reduce(values: Tensor, dim: int) -> Tensor:
    # .max routes the gradient to a single argmax, so autograd of the max
    # semiring yields the 0/1 arcs of one best tree even under ties.
    return values.max(dim=dim).values


def _by_end(by_start: Tensor, width: int) -> Tensor:
    """Shift a start-indexed `[B, N+1]` row of width-`width` spans to end-indexed."""
    pad = by_start.new_full((by_start.shape[0], width), NEG)
    return torch.cat([pad, by_start[:, : by_start.shape[1] - width]], dim=1)


def _pad_tail(values: Tensor, size: int) -> Tensor:
    pad = values.new_full((values.shape[0], size - values.shape[1]), NEG)
    return torch.cat([values, pad], dim=1)


def eisner(arc_scores: Tensor, lengths: Tensor, single_root: bool, reduce: Reduce) -> Tensor:
    """`[B]` the reduction (log-sum or max) over projective trees of the tree
    scores, for `arc_scores [B, N+1, N+1]` (`[head, dependent]`, forbidden arcs
    at NEG) and `lengths [B]` words per sentence."""
    batch, n_nodes, _ = arc_scores.shape
    starts = torch.arange(n_nodes, device=arc_scores.device)
    zeros = arc_scores.new_zeros(batch, n_nodes)
    cr_start, cr_end = [zeros], [zeros]
    cl_start, cl_end = [zeros], [zeros]
    ir_start, il_end = [None], [None]
    root_totals = []
    for width in range(1, n_nodes):
        n_spans = n_nodes - width

        def split(left: list, right: list, width: int = width) -> Tensor:
            """Reduce over the split points of every width-`width` span: `left[k]`
            start-indexed, `right[k]` end-indexed, paired position by position."""
            stacked_left = torch.stack(left, dim=1)[:, :, : n_nodes - width]
            stacked_right = torch.stack(right, dim=1)[:, :, width:]
            return reduce(stacked_left + stacked_right, 1)

        inner = split(cr_start[:width], cl_end[width - 1 :: -1])
        ir = inner + arc_scores.diagonal(offset=width, dim1=1, dim2=2)
        il = inner + arc_scores.diagonal(offset=-width, dim1=1, dim2=2)
        ir_start.append(_pad_tail(ir, n_nodes))
        il_end.append(_by_end(_pad_tail(il, n_nodes), width))
        cr = split(ir_start[1 : width + 1], cr_end[width - 1 :: -1])
        cl = split(cl_start[:width], il_end[width:0:-1])
        if single_root:
            # ROOT may take one child: its complete span must reach the end.
            cut = (starts[None, :n_spans] == 0) & (lengths[:, None] != width)
            cr = torch.where(cut, torch.full_like(cr, NEG), cr)
        root_totals.append(cr[:, 0])
        cr = _pad_tail(cr, n_nodes)
        cl = _pad_tail(cl, n_nodes)
        cr_start.append(cr)
        cr_end.append(_by_end(cr, width))
        cl_start.append(cl)
        cl_end.append(_by_end(cl, width))
    return torch.stack(root_totals, dim=1).gather(1, (lengths - 1)[:, None]).squeeze(1)
