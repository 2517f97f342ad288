"""Semi-Markov CRF over entity segmentations, seen through a BIO or BILUO tag scheme.

This is how a span/entity teacher meets a tagger student: its distribution over
segmentations maps one-to-one onto tag sequences, so the per-token tag
marginals and tag-pair marginals a CRF or softmax student needs are exact sums
of span marginals (inside spans) and of prefix x suffix sums (across a segment
boundary).
"""

from __future__ import annotations

from functools import cached_property
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import StructuredDistribution
from .eisner import Reduce, logsumexp_reduce, max_reduce
from .utils import (
    NEG,
    check_finite_result,
    check_lengths,
    check_scores,
    clamp_neg,
    grad_of,
    sequence_mask,
    weighted_sum,
)

SCHEMES = {"BIO": ("B", "I"), "BILUO": ("B", "I", "L", "U")}


def _token_type(scheme: str, offset: int, width: int) -> str:
    """Tag type of the token `offset` positions into an entity of `width` tokens."""
    if scheme == "BILUO":
        if width == 1:
            return "U"
        if offset == width - 1:
            return "L"
    return "B" if offset == 0 else "I"


def _shift(values: Tensor, steps: int, dim: int = 1, fill: float = 0.0) -> Tensor:
    """Move `values` `steps` places forward along `dim` (1 or 2), filling the front."""
    if steps == 0:
        return values
    steps = min(steps, values.shape[dim])
    front = values.narrow(dim, 0, values.shape[dim] - steps)
    pad_shape = list(values.shape)
    pad_shape[dim] = steps
    return torch.cat([values.new_full(pad_shape, fill), front], dim=dim)


class SemiMarkovCRF(StructuredDistribution):
    """P(segmentation) = exp(score) / Z, where a segmentation splits the n tokens
    into entity spans (at most K tokens wide) and outside tokens, and its score
    sums the span scores and the outside scores.

    span_scores: `[B, N, K, E]`, `span_scores[b, i, k, e]` the score of an
    entity of label e on tokens i..i+k; outside: `[B, N]` (None: zeros);
    lengths: `[B]`. Tag indices (scheme "BIO"): O = 0, B-e = 1 + 2e,
    I-e = 2 + 2e; ("BILUO"): O = 0, B-e = 1 + 4e, I-e = 2 + 4e, L-e = 3 + 4e,
    U-e = 4 + 4e. `marginals`, `pair_marginals` and `argmax` are in tag space;
    `span_marginals` and `outside_marginals` in segment space.
    """

    def __init__(
        self,
        span_scores: Tensor,
        lengths: Tensor,
        outside: Optional[Tensor] = None,
        scheme: str = "BIO",
    ):
        check_scores("span_scores", span_scores, 4)
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {sorted(SCHEMES)}, got {scheme!r}")
        batch, n_max, max_width, _ = span_scores.shape
        self.scheme = scheme
        self.types = SCHEMES[scheme]
        self.lengths = check_lengths(lengths, batch, n_max).to(span_scores.device)
        self.mask = sequence_mask(self.lengths, n_max)
        last = torch.arange(n_max, device=span_scores.device)[:, None] + torch.arange(
            max_width, device=span_scores.device
        )
        self.span_mask = last[None] < self.lengths[:, None, None]
        self.span_scores = clamp_neg(span_scores).masked_fill(~self.span_mask[..., None], NEG)
        if outside is None:
            outside = span_scores.new_zeros(batch, n_max)
        check_scores("outside", outside, 2)
        if outside.shape != (batch, n_max):
            raise ValueError(
                f"outside must have shape {(batch, n_max)}, got {tuple(outside.shape)}"
            )
        # Padding tokens are outside with score 0: the one way to complete a
        # segmentation of the real tokens, so Z and the marginals are unchanged.
        self.outside = clamp_neg(outside).masked_fill(~self.mask, 0.0)

    def tempered(self, temperature: float) -> SemiMarkovCRF:
        t = float(temperature)
        return SemiMarkovCRF(self.span_scores / t, self.lengths, self.outside / t, self.scheme)

    @property
    def n_tags(self) -> int:
        return 1 + len(self.types) * self.span_scores.shape[-1]

    def _spans_by_end(self, span_scores: Tensor) -> Tensor:
        """`[B, N, K, E]`: entry `[b, j, k]` scores the span of width k+1 ending at token j."""
        widths = span_scores.shape[2]
        return torch.stack(
            [_shift(span_scores[:, :, k], k, fill=NEG) for k in range(widths)], dim=2
        )

    def _prefix_sums(self, span_scores: Tensor, outside: Tensor, reduce: Reduce) -> Tensor:
        """`[B, N+1]`: entry j reduces (log-sum or max) the segmentations of tokens [0, j)."""
        by_end = self._spans_by_end(span_scores)
        batch, n_max, widths, _ = by_end.shape
        prefixes = [outside.new_full((batch,), NEG)] * widths + [outside.new_zeros(batch)]
        for j in range(1, n_max + 1):
            previous = torch.stack(prefixes[-1 : -widths - 1 : -1], dim=1)
            spans = (previous[:, :, None] + by_end[:, j - 1]).flatten(1)
            stay_outside = (prefixes[-1] + outside[:, j - 1])[:, None]
            prefixes.append(reduce(torch.cat([stay_outside, spans], dim=1), 1))
        return torch.stack(prefixes[widths:], dim=1)

    @cached_property
    def _prefixes(self) -> Tensor:
        return self._prefix_sums(self.span_scores, self.outside, logsumexp_reduce)

    @cached_property
    def _suffixes(self) -> Tensor:
        """`[B, N+1+K]`: entry j log-sums the segmentations of tokens [j, N); NEG past N."""
        batch, n_max, widths, _ = self.span_scores.shape
        suffixes = [self.outside.new_zeros(batch)] + [self.outside.new_full((batch,), NEG)] * widths
        for j in range(n_max - 1, -1, -1):
            following = torch.stack(suffixes[:widths], dim=1)
            spans = (self.span_scores[:, j] + following[:, :, None]).flatten(1)
            stay_outside = (self.outside[:, j] + suffixes[0])[:, None]
            suffixes.insert(0, torch.logsumexp(torch.cat([stay_outside, spans], dim=1), dim=1))
        return torch.stack(suffixes, dim=1)

    @cached_property
    def log_partition(self) -> Tensor:
        """`[B]` log-sum over segmentations."""
        return check_finite_result("log_partition", self._prefixes[:, -1])

    def _suffix_after_spans(self) -> Tensor:
        """`[B, N, K]`: suffix sum after the span starting at i of width k+1."""
        n_max, widths = self.span_scores.shape[1:3]
        after = torch.arange(n_max, device=self.mask.device)[:, None] + torch.arange(
            1, widths + 1, device=self.mask.device
        )
        return self._suffixes[:, after]

    @cached_property
    def span_marginals(self) -> Tensor:
        """`[B, N, K, E]` P(entity e on tokens i..i+k)."""
        log_marg = (
            self._prefixes[:, :-1, None, None]
            + self.span_scores
            + self._suffix_after_spans()[..., None]
            - self.log_partition[:, None, None, None]
        )
        return log_marg.exp().clamp(max=1.0) * self.span_mask[..., None]

    @cached_property
    def outside_marginals(self) -> Tensor:
        """`[B, N]` P(token i is outside every entity)."""
        log_marg = (
            self._prefixes[:, :-1]
            + self.outside
            + self._suffixes[:, 1 : self.outside.shape[1] + 1]
            - self.log_partition[:, None]
        )
        return log_marg.exp().clamp(max=1.0) * self.mask

    def _tag_unary(self, spans: Tensor, outside: Tensor) -> Tensor:
        """`[B, N, T]` per-token tag totals of span weights `[B, N, K, E]` and
        outside weights `[B, N]` (marginals, or 0/1 indicators of one segmentation)."""
        widths = spans.shape[2]
        per_type = {kind: torch.zeros_like(spans[:, :, 0]) for kind in self.types}
        for k in range(widths):
            for offset in range(k + 1):
                kind = _token_type(self.scheme, offset, k + 1)
                per_type[kind] = per_type[kind] + _shift(spans[:, :, k], offset)
        entity_tags = torch.stack([per_type[kind] for kind in self.types], dim=-1).flatten(2)
        return torch.cat([outside[..., None], entity_tags], dim=-1)

    @cached_property
    def marginals(self) -> Tensor:
        """`[B, N, T]` P(tag_i = t)."""
        return self._tag_unary(self.span_marginals, self.outside_marginals) * self.mask[..., None]

    def _boundary_tags(self) -> tuple:
        """Log-sums `[B, N, T]` over segmentations of the segments that end at
        token i (by the tag they give token i) and of those that start at i (by
        the tag they give token i), each with its prefix/suffix sum."""
        batch, n_max, widths, n_ent = self.span_scores.shape
        kinds = {kind: index for index, kind in enumerate(self.types)}
        before = torch.cat([self._prefixes.new_full((batch, widths), NEG), self._prefixes], dim=1)
        by_end = self._spans_by_end(self.span_scores)
        ending = self.span_scores.new_full((batch, n_max, n_ent, len(self.types)), NEG)
        starting = ending.clone()
        after = self._suffix_after_spans()
        for k in range(widths):
            prefix = before[:, widths - k : widths - k + n_max]
            last_kind = kinds[_token_type(self.scheme, k, k + 1)]
            first_kind = kinds[_token_type(self.scheme, 0, k + 1)]
            ending_k = F.one_hot(torch.tensor(last_kind), len(self.types)).bool()
            starting_k = F.one_hot(torch.tensor(first_kind), len(self.types)).bool()
            ends_here = (prefix[..., None] + by_end[:, :, k])[..., None]
            starts_here = (self.span_scores[:, :, k] + after[:, :, k, None])[..., None]
            ending = torch.where(ending_k, torch.logaddexp(ending, ends_here), ending)
            starting = torch.where(starting_k, torch.logaddexp(starting, starts_here), starting)
        outside_end = self._prefixes[:, :-1] + self.outside
        outside_start = self.outside + self._suffixes[:, 1 : n_max + 1]
        return (
            torch.cat([outside_end[..., None], ending.flatten(2)], dim=-1),
            torch.cat([outside_start[..., None], starting.flatten(2)], dim=-1),
        )

    @cached_property
    def pair_marginals(self) -> Tensor:
        """`[B, N-1, T, T]` P(tag_i = a, tag_{i+1} = c)."""
        ending, starting = self._boundary_tags()
        across = (
            ending[:, :-1, :, None]
            + starting[:, 1:, None, :]
            - self.log_partition[:, None, None, None]
        ).exp()
        n_types = len(self.types)
        inside = self.span_scores.new_zeros(
            self.span_scores.shape[:2] + (self.span_scores.shape[-1], n_types, n_types)
        )
        for k in range(1, self.span_scores.shape[2]):
            for offset in range(k):
                first = self.types.index(_token_type(self.scheme, offset, k + 1))
                second = self.types.index(_token_type(self.scheme, offset + 1, k + 1))
                cell = F.one_hot(torch.tensor(first * n_types + second), n_types * n_types)
                weight = _shift(self.span_marginals[:, :, k], offset)[..., None]
                inside = inside + (weight * cell.to(weight)).view(inside.shape)
        n_ent = inside.shape[2]
        same_entity = torch.eye(n_ent, dtype=inside.dtype, device=inside.device)
        blocks = inside[:, :, :, :, None, :] * same_entity[None, None, :, None, :, None]
        blocks = blocks.flatten(4).flatten(2, 3)[:, :-1]
        inside_tags = F.pad(blocks, (1, 0, 1, 0))
        return (across + inside_tags).clamp(max=1.0) * self.mask[:, 1:, None, None]

    @cached_property
    def argmax(self) -> Tensor:
        """`[B, N]` tags of the best segmentation, -1 at padding."""
        n_span = self.span_scores[0].numel()
        packed = torch.cat([self.span_scores.flatten(1), self.outside], dim=1).detach()

        def best_score(flat: Tensor) -> Tensor:
            spans = flat[:, :n_span].view(self.span_scores.shape)
            return self._prefix_sums(spans, flat[:, n_span:], max_reduce)[:, -1]

        chosen = grad_of(best_score, packed)
        spans = chosen[:, :n_span].view(self.span_scores.shape)
        tags = self._tag_unary(spans, chosen[:, n_span:]).argmax(-1)
        return tags.masked_fill(~self.mask, -1)

    def _segments(self, tags: Tensor) -> tuple:
        """0/1 span `[B, N, K, E]` and outside `[B, N]` indicators encoded by `tags`."""
        if (
            not isinstance(tags, Tensor)
            or tags.is_floating_point()
            or tags.shape != self.mask.shape
        ):
            raise ValueError(f"tags must be an integer tensor of shape {tuple(self.mask.shape)}")
        spans = torch.zeros_like(self.span_scores)
        outside = torch.zeros_like(self.outside)
        n_types, widths = len(self.types), self.span_scores.shape[2]
        for b, n in enumerate(self.lengths.tolist()):
            row = tags[b, :n].tolist()
            i = 0
            while i < n:
                if row[i] == 0:
                    outside[b, i] = 1.0
                    i += 1
                    continue
                if not 0 < row[i] < self.n_tags:
                    raise ValueError(
                        f"tags[{b}, {i}] = {row[i]} is not a tag index of {self.scheme}"
                    )
                entity = (row[i] - 1) // n_types
                width = 1
                while (
                    i + width < n
                    and row[i + width] != 0
                    and (
                        (row[i + width] - 1) // n_types == entity
                        and self.types[(row[i + width] - 1) % n_types] in ("I", "L")
                        and self.types[(row[i + width - 1] - 1) % n_types] in ("B", "I")
                    )
                ):
                    width += 1
                expected = [
                    1 + entity * n_types + self.types.index(_token_type(self.scheme, p, width))
                    for p in range(width)
                ]
                if row[i : i + width] != expected:
                    raise ValueError(f"tags[{b}] is not a valid {self.scheme} sequence at {i}")
                if width > widths:
                    raise ValueError(f"tags[{b}] has an entity of {width} tokens; K = {widths}")
                spans[b, i, width - 1, entity] = 1.0
                i += width
        return spans, outside

    def score(self, tags: Tensor) -> Tensor:
        """`[B]` score of the segmentation that `tags [B, N]` encode."""
        spans, outside = self._segments(tags)
        return weighted_sum(spans, self.span_scores, (1, 2, 3)) + (outside * self.outside).sum(-1)

    def expected_score(self, dist: StructuredDistribution) -> Tensor:
        """`[B]` E_dist[score]; `dist` a SemiMarkovCRF of the same shape."""
        if not isinstance(dist, SemiMarkovCRF) or dist.span_scores.shape != self.span_scores.shape:
            raise ValueError(
                "expected_score of a SemiMarkovCRF needs a SemiMarkovCRF of the same shape"
            )
        spans = weighted_sum(dist.span_marginals, self.span_scores, (1, 2, 3))
        return spans + (dist.outside_marginals * self.outside).sum(-1)
