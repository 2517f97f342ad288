"""Head selection: the locally normalised (MaxEnt) factorisation of dependency arcs."""

from __future__ import annotations

from functools import cached_property

import torch
from torch import Tensor

from .arcs import ArcFactored
from .mst import mst
from .utils import check_finite_result


class HeadSelection(ArcFactored):
    """Each word picks its head independently: P(heads) = prod_d softmax_h(s[h, d]).

    The distribution covers all head vectors (cycles included); `argmax` is
    nevertheless a well-formed tree: the maximum spanning tree over the arc
    scores (one word on ROOT when `single_root`). arc_scores: `[B, N+1, N+1]`,
    `[head, dependent]`, index 0 = ROOT; lengths: `[B]` words.
    """

    def __init__(self, arc_scores: Tensor, lengths: Tensor, single_root: bool = True):
        super().__init__(arc_scores, lengths)
        self.single_root = single_root

    def tempered(self, temperature: float) -> HeadSelection:
        return HeadSelection(self.arc_scores / float(temperature), self.lengths, self.single_root)

    @cached_property
    def log_partition(self) -> Tensor:
        """`[B]` sum over words of logsumexp over their possible heads."""
        per_word = torch.logsumexp(self.arc_scores, dim=1) * self.word_mask
        return check_finite_result("log_partition", per_word.sum(-1))

    @cached_property
    def marginals(self) -> Tensor:
        """`[B, N+1, N+1]` the per-dependent softmax over heads."""
        return self._masked(self.arc_scores.softmax(dim=1))

    @cached_property
    def argmax(self) -> Tensor:
        """`[B, N+1]` heads of the maximum spanning tree (entry 0 and padding -1)."""
        return mst(self.arc_scores, self.lengths, self.single_root)
