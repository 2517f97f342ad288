"""Shared parts of the arc-factored dependency distributions."""

from __future__ import annotations

from torch import Tensor

from .base import StructuredDistribution
from .utils import NEG, check_labels, check_lengths, check_scores, clamp_neg, weighted_sum


class ArcFactored(StructuredDistribution):
    """A distribution over head vectors whose score sums arc scores.

    arc_scores: `[B, N+1, N+1]`, `arc_scores[b, h, d]` the score of the arc
    h -> d, index 0 = ROOT; lengths: `[B]` words per sentence (ROOT not counted).
    The diagonal, arcs into ROOT and padding are ignored (held at NEG in
    `self.arc_scores`); `self.arc_mask [B, N+1, N+1]` marks the real arcs.
    """

    def __init__(self, arc_scores: Tensor, lengths: Tensor):
        check_scores("arc_scores", arc_scores, 3)
        batch, rows, cols = arc_scores.shape
        if rows != cols or rows < 2:
            raise ValueError(
                "arc_scores must have shape [B, N+1, N+1] with N >= 1, "
                f"got {tuple(arc_scores.shape)}"
            )
        self.lengths = check_lengths(lengths, batch, rows - 1).to(arc_scores.device)
        positions = self.lengths.new_tensor(range(rows))
        self.node_mask = positions[None, :] <= self.lengths[:, None]
        word_mask = self.node_mask & (positions > 0)
        self.word_mask = word_mask
        self.arc_mask = (
            self.node_mask[:, :, None]
            & word_mask[:, None, :]
            & (positions[:, None] != positions[None, :])
        )
        self.arc_scores = clamp_neg(arc_scores).masked_fill(~self.arc_mask, NEG)

    def _masked(self, arc_marginals: Tensor) -> Tensor:
        return arc_marginals.masked_fill(~self.arc_mask, 0.0)

    def score(self, heads: Tensor) -> Tensor:
        """`[B]` sum of the arc scores of `heads [B, N+1]` (entry 0 and padding ignored)."""
        heads = check_labels(
            "heads", heads, self.word_mask.shape, self.arc_scores.shape[1], self.word_mask
        )
        picked = self.arc_scores.gather(1, heads[:, None, :]).squeeze(1)
        return (picked * self.word_mask).sum(-1)

    def expected_score(self, dist: StructuredDistribution) -> Tensor:
        """`[B]` E_dist[score] from `dist.marginals [B, N+1, N+1]` (arc marginals)."""
        arcs = dist.marginals
        if arcs.shape != self.arc_scores.shape:
            raise ValueError(
                f"arc marginals of shape {tuple(arcs.shape)} do not match arc_scores "
                f"of shape {tuple(self.arc_scores.shape)}"
            )
        return weighted_sum(arcs * self.arc_mask, self.arc_scores, (1, 2))
