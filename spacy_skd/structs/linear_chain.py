"""Linear-chain CRF: forward-backward, Viterbi, log-probabilities."""

from __future__ import annotations

import math
from functools import cached_property
from typing import Optional, Tuple

import torch
from torch import Tensor

from .base import StructuredDistribution
from .utils import (
    broadcast_param,
    check_finite_result,
    check_labels,
    check_lengths,
    check_scores,
    clamp_neg,
    sequence_mask,
    weighted_sum,
)

# The smallest sum of scaled terms a product step of the forward-backward trusts
# (float64; its normal numbers reach 2.2e-308, so underflowed terms are negligible).
TINY_SUM = 1e-280


class LinearChainCRF(StructuredDistribution):
    """A first-order linear-chain CRF over label sequences.

    score(y) = start[y_0] + sum_i emissions[i, y_i]
               + sum_{i>=1} transitions[y_{i-1}, y_i] + end[y_{n-1}]

    emissions: `[B, N, L]`; transitions: `[L, L]` or `[B, L, L]`, indexed
    `[previous, next]`; start, end: `[L]` or `[B, L]` (None: zeros);
    lengths: `[B]`, 1 <= n <= N. Inputs at padded positions are ignored; outputs
    there are 0 (marginals) and -1 (argmax). A score of -inf forbids a label or
    transition.
    """

    def __init__(
        self,
        emissions: Tensor,
        transitions: Tensor,
        lengths: Tensor,
        start: Optional[Tensor] = None,
        end: Optional[Tensor] = None,
    ):
        check_scores("emissions", emissions, 3)
        if transitions is None:
            raise ValueError("transitions must be a tensor of shape [L, L] or [B, L, L]")
        batch, n_max, n_labels = emissions.shape
        self.lengths = check_lengths(lengths, batch, n_max).to(emissions.device)
        self.mask = sequence_mask(self.lengths, n_max)
        self.emissions = clamp_neg(emissions.masked_fill(~self.mask[..., None], 0.0))
        self.transitions = clamp_neg(
            broadcast_param("transitions", transitions, (batch, n_labels, n_labels), emissions)
        )
        self.start = clamp_neg(broadcast_param("start", start, (batch, n_labels), emissions))
        self.end = clamp_neg(broadcast_param("end", end, (batch, n_labels), emissions))

    @property
    def n_labels(self) -> int:
        return self.emissions.shape[-1]

    def tempered(self, temperature: float) -> LinearChainCRF:
        t = float(temperature)
        tempered = LinearChainCRF(
            self.emissions / t, self.transitions / t, self.lengths, self.start / t, self.end / t
        )
        return self._pass_known(t, tempered)

    @cached_property
    def _alphas(self) -> Tensor:
        """`[B, N, L]` log-sum of the prefix scores ending in each label; at
        padding the last real value is carried along."""
        alpha = self.start + self.emissions[:, 0]
        alphas = [alpha]
        for i in range(1, self.emissions.shape[1]):
            step = torch.logsumexp(alpha[:, :, None] + self.transitions, dim=1)
            alpha = torch.where(self.mask[:, i, None], step + self.emissions[:, i], alpha)
            alphas.append(alpha)
        return torch.stack(alphas, dim=1)

    @cached_property
    def _betas(self) -> Tensor:
        """`[B, N, L]` log-sum of the suffix scores after each label (including
        the end score); `end` at the last real position and at padding. Unless
        `_alphas` are known already, both come from one pass over the positions
        (`_forward_backward`)."""
        if "_alphas" in self.__dict__:
            return self._backward()
        alphas, betas = self._forward_backward()
        self.__dict__["_alphas"] = alphas
        return betas

    def _backward(self) -> Tensor:
        beta = self.end
        betas = [beta]
        for i in range(self.emissions.shape[1] - 2, -1, -1):
            nxt = (self.emissions[:, i + 1] + beta)[:, None, :]
            step = torch.logsumexp(self.transitions + nxt, dim=2)
            beta = torch.where(self.mask[:, i + 1, None], step, self.end)
            betas.append(beta)
        return torch.stack(betas[::-1], dim=1)

    def _forward_backward(self) -> Tuple[Tensor, Tensor]:
        """`_alphas` and `_betas`, `[B, N, L]` each, in one loop over the
        positions: by matrix products (`_product_walk`), or by logsumexp steps
        (`_logsumexp_walk`) where those cannot be trusted."""
        walked = self._product_walk() if self.emissions.shape[1] > 1 else None
        return self._logsumexp_walk() if walked is None else walked

    def _logsumexp_walk(self) -> Tuple[Tensor, Tensor]:
        """`_alphas` and `_betas`: step k moves the alphas to position k and the
        betas to position N-1-k as one batch of 2B rows (the betas against the
        transposed transitions), so the positions are walked once, not twice."""
        batch, n_max, _ = self.emissions.shape
        both_transitions = torch.cat([self.transitions, self.transitions.transpose(1, 2)])
        emitted = self.emissions.unbind(1)
        real = self.mask[..., None].unbind(1)
        alpha = self.start + emitted[0]
        beta = self.end
        alphas, betas = [alpha], [beta]
        for k in range(1, n_max):
            j = n_max - 1 - k
            state = torch.cat([alpha, emitted[j + 1] + beta])
            step = torch.logsumexp(state[:, :, None] + both_transitions, dim=1)
            alpha = torch.where(real[k], step[:batch] + emitted[k], alpha)
            beta = torch.where(real[j + 1], step[batch:], self.end)
            alphas.append(alpha)
            betas.append(beta)
        return torch.stack(alphas, dim=1), torch.stack(betas[::-1], dim=1)

    def _product_walk(self) -> Optional[Tuple[Tensor, Tensor]]:
        """`_alphas` and `_betas` as `_logsumexp_walk` walks them (the betas of
        each row right-aligned, so that all rows' betas start at the same step
        and no step needs a mask), each step a matrix product in float64:
        logsumexp_a(s[a] + T[a, c]) = m + M[c] + log sum_a exp(s[a] - m) *
        exp(T[a, c] - M[c]), m = max s and M[c] = max_a T[a, c], so no term
        exceeds 1 and a sum is at least its largest term. None where a sum falls
        below `TINY_SUM` (padding included): terms that underflowed could matter
        there, or a label is impossible (its log-sum not finite), as when only
        impossible labels lead to it."""
        batch, n_max, _ = self.emissions.shape
        wide = torch.promote_types(self.emissions.dtype, torch.float64)
        emissions = self.emissions.to(wide)
        transitions = torch.cat([self.transitions, self.transitions.transpose(1, 2)]).to(wide)
        column_max = transitions.detach().amax(dim=1, keepdim=True)
        weights = (transitions - column_max).exp()
        positions = torch.arange(n_max, device=emissions.device)[None, :, None]
        last = (self.lengths - 1)[:, None, None]
        # emissions[b, i] at i + N - n_b: every row's last position at N - 1
        right = emissions.gather(
            1, (positions + last + 1 - n_max).clamp(min=0).expand_as(emissions)
        )
        # what step k adds to the scores it moved: the alphas' emissions at k,
        # the betas' at their next position (N-1-k right-aligned), and M
        addends = (torch.cat([emissions, right.flip(1)]) + column_max)[:, :, None].unbind(1)
        first = self.start.to(wide) + emissions[:, 0]
        end = self.end.to(wide)
        state = torch.cat([first, right[:, -1] + end])[:, None, :]
        moved, sums = [], []
        for k in range(1, n_max):
            top = state.amax(dim=-1, keepdim=True)
            if top.requires_grad:
                top = top.detach()
            total = torch.bmm((state - top).exp(), weights)
            sums.append(total)
            moved.append(total.log() + top)
            state = moved[-1] + addends[k]
        if not bool((torch.stack(sums) >= TINY_SUM).all()):
            return None
        steps = (torch.stack(moved)[:, :, 0] + column_max[:, 0]).transpose(0, 1)
        alphas = torch.cat([first[:, None], steps[:batch] + emissions[:, 1:]], dim=1)
        betas = torch.cat([steps[batch:].flip(1), end[:, None]], dim=1)
        # the alphas carry their last real value along the padding; the betas
        # move back to the left, `end` from the last real position on
        alphas = alphas.gather(1, torch.minimum(positions, last).expand_as(alphas))
        betas = betas.gather(
            1, (positions + n_max - 1 - last).clamp(max=n_max - 1).expand_as(betas)
        )
        dtype = self.emissions.dtype
        return alphas.to(dtype), betas.to(dtype)

    @cached_property
    def log_partition(self) -> Tensor:
        """`[B]` log Z by the forward algorithm."""
        log_z = torch.logsumexp(self._alphas[:, -1] + self.end, dim=-1)
        return check_finite_result("log_partition", log_z)

    @cached_property
    def marginals(self) -> Tensor:
        """`[B, N, L]` P(y_i = l), by forward-backward."""
        betas = self._betas  # first: computes the alphas with them when unknown
        log_marg = self._alphas + betas - self.log_partition[:, None, None]
        return log_marg.exp().clamp(max=1.0) * self.mask[..., None]

    @cached_property
    def pair_marginals(self) -> Tensor:
        """`[B, N-1, L, L]` P(y_i = a, y_{i+1} = c)."""
        after = (self.emissions[:, 1:] + self._betas[:, 1:])[:, :, None, :]
        log_marg = (
            self._alphas[:, :-1, :, None]
            + self.transitions[:, None]
            + after
            - self.log_partition[:, None, None, None]
        )
        return log_marg.exp().clamp(max=1.0) * self.mask[:, 1:, None, None]

    @cached_property
    def transition_counts(self) -> Tensor:
        """`[B, L, L]` the sum over positions of `pair_marginals`, without building
        them: sum_i P(y_i = a, y_{i+1} = c) = exp(transitions[a, c]) *
        sum_i exp(alpha_i[a] - log Z / 2 - h_i) * exp(after_i[c] - log Z / 2 + h_i),
        with after_i = emissions_{i+1} + beta_{i+1}: one batched matrix product
        over the positions, in float64. The shift h_i balances the two factors
        (each at most exp(e_i / 2), e_i = max alpha_i + max after_i - log Z), so
        they neither overflow nor underflow; where some e_i is too large for
        float64 (a pair of very likely labels joined by a forbidden or very
        unlikely transition), the pair marginals are summed instead."""
        wide = torch.promote_types(self.emissions.dtype, torch.float64)
        alphas = self._alphas[:, :-1].to(wide)
        after = (self.emissions[:, 1:] + self._betas[:, 1:]).to(wide)
        log_z = self.log_partition.to(wide)[:, None, None]
        padded = ~self.mask[:, 1:, None]
        with torch.no_grad():
            best_alpha = alphas.max(-1, keepdim=True).values
            best_after = after.max(-1, keepdim=True).values
            excess = (best_alpha + best_after - log_z).masked_fill(padded, -math.inf)
            limit = math.log(torch.finfo(wide).max) - math.log(self.emissions.shape[1]) - 1.0
            if bool((excess > limit).any()):
                return self.pair_marginals.sum(1)
            shift = (best_after - best_alpha) / 2
        before = (alphas - log_z / 2 + shift).masked_fill(padded, -math.inf).exp()
        after = (after - log_z / 2 - shift).masked_fill(padded, -math.inf).exp()
        products = torch.bmm(before.transpose(1, 2), after)
        return (products * self.transitions.to(wide).exp()).to(self.emissions.dtype)

    @cached_property
    def argmax(self) -> Tensor:
        """`[B, N]` the Viterbi label sequence, -1 at padding."""
        best = self.start + self.emissions[:, 0]
        pointers = []
        for i in range(1, self.emissions.shape[1]):
            step, pointer = (best[:, :, None] + self.transitions).max(dim=1)
            best = torch.where(self.mask[:, i, None], step + self.emissions[:, i], best)
            pointers.append(pointer)
        last_label = (best + self.end).argmax(dim=-1)
        last_index = self.lengths - 1
        tags = torch.full_like(self.mask, -1, dtype=torch.long)
        current = last_label
        for i in range(self.emissions.shape[1] - 1, 0, -1):
            current = torch.where(last_index == i, last_label, current)
            real = i <= last_index
            tags[:, i] = torch.where(real, current, -1)
            previous = pointers[i - 1].gather(1, current[:, None]).squeeze(1)
            current = torch.where(real, previous, current)
        tags[:, 0] = torch.where(last_index == 0, last_label, current)
        return tags

    def score(self, tags: Tensor) -> Tensor:
        """`[B]` score of `tags [B, N]` (values at padding ignored)."""
        tags = check_labels("tags", tags, self.mask.shape, self.n_labels, self.mask)
        emitted = self.emissions.gather(2, tags[..., None]).squeeze(-1)
        total = (emitted * self.mask).sum(-1)
        pair_index = tags[:, :-1] * self.n_labels + tags[:, 1:]
        moved = self.transitions.flatten(1).gather(1, pair_index)
        total = total + (moved * self.mask[:, 1:]).sum(-1)
        last = tags.gather(1, (self.lengths - 1)[:, None]).squeeze(1)
        total = total + self.start.gather(1, tags[:, :1]).squeeze(1)
        return total + self.end.gather(1, last[:, None]).squeeze(1)

    def expected_score(self, dist: StructuredDistribution) -> Tensor:
        """`[B]` E_dist[score]: needs `dist.marginals [B, N, L]` and
        `dist.transition_counts [B, L, L]` over this CRF's labels."""
        unary, counts = dist.marginals, dist.transition_counts
        if unary.shape != self.emissions.shape or counts.shape != self.transitions.shape:
            raise ValueError(
                f"marginals of shape {tuple(unary.shape)} and transition counts of shape "
                f"{tuple(counts.shape)} do not match a CRF over emissions of shape "
                f"{tuple(self.emissions.shape)}"
            )
        total = weighted_sum(unary, self.emissions, (1, 2))
        total = total + weighted_sum(counts, self.transitions, (1, 2))
        last = unary.gather(1, (self.lengths - 1)[:, None, None].expand(-1, 1, self.n_labels))
        total = total + weighted_sum(unary[:, 0], self.start, (1,))
        return total + weighted_sum(last[:, 0], self.end, (1,))
