"""Independent per-token softmax (a MaxEnt tagger) as a sequence distribution."""

from __future__ import annotations

from functools import cached_property

import torch
from torch import Tensor

from .base import StructuredDistribution
from .utils import (
    check_finite_result,
    check_labels,
    check_lengths,
    check_scores,
    clamp_neg,
    sequence_mask,
    weighted_sum,
)


class TokenSoftmax(StructuredDistribution):
    """P(y) = prod_i softmax(logits_i)[y_i] over label sequences.

    logits: `[B, N, L]`; lengths: `[B]`, 1 <= n <= N. Outputs at padding are 0
    (marginals) and -1 (argmax).
    """

    def __init__(self, logits: Tensor, lengths: Tensor):
        check_scores("logits", logits, 3)
        batch, n_max, _ = logits.shape
        self.lengths = check_lengths(lengths, batch, n_max).to(logits.device)
        self.mask = sequence_mask(self.lengths, n_max)
        self.logits = clamp_neg(logits.masked_fill(~self.mask[..., None], 0.0))

    @property
    def n_labels(self) -> int:
        return self.logits.shape[-1]

    def tempered(self, temperature: float) -> TokenSoftmax:
        return TokenSoftmax(self.logits / float(temperature), self.lengths)

    @cached_property
    def log_partition(self) -> Tensor:
        """`[B]` sum over real tokens of logsumexp(logits_i)."""
        per_token = torch.logsumexp(self.logits, dim=-1) * self.mask
        return check_finite_result("log_partition", per_token.sum(-1))

    @cached_property
    def marginals(self) -> Tensor:
        """`[B, N, L]` the per-token softmax."""
        return self.logits.softmax(-1) * self.mask[..., None]

    @cached_property
    def pair_marginals(self) -> Tensor:
        """`[B, N-1, L, L]` P(y_i = a, y_{i+1} = c): products of token marginals
        (how a per-token teacher is seen by a CRF student)."""
        unary = self.marginals
        return unary[:, :-1, :, None] * unary[:, 1:, None, :]

    @cached_property
    def transition_counts(self) -> Tensor:
        """`[B, L, L]` sum over positions of `pair_marginals`, without building them."""
        unary = self.marginals
        return torch.einsum("bia,bic->bac", unary[:, :-1], unary[:, 1:])

    @cached_property
    def argmax(self) -> Tensor:
        """`[B, N]` per-token argmax, -1 at padding."""
        return self.logits.argmax(-1).masked_fill(~self.mask, -1)

    def score(self, tags: Tensor) -> Tensor:
        """`[B]` sum of the logits of `tags [B, N]` (values at padding ignored)."""
        tags = check_labels("tags", tags, self.mask.shape, self.n_labels, self.mask)
        return (self.logits.gather(2, tags[..., None]).squeeze(-1) * self.mask).sum(-1)

    def expected_score(self, dist: StructuredDistribution) -> Tensor:
        """`[B]` E_dist[score] from `dist.marginals [B, N, L]` alone."""
        unary = dist.marginals
        if unary.shape != self.logits.shape:
            raise ValueError(
                f"marginals of shape {tuple(unary.shape)} do not match logits of "
                f"shape {tuple(self.logits.shape)}"
            )
        return weighted_sum(unary, self.logits, (1, 2))
