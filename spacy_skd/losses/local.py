"""Local sub-structure matching (Lin et al. 2022, "efficient sub-structured KD"):
teacher and student are matched on every local sub-structure directly, with no
dynamic programming.

What is matched, per real token:
- softmax tagger: the label distribution softmax(logits_i);
- CRF: for each previous label y', the next-label distribution
  softmax_y(e_i(y) + t(y', y)), averaged over the L previous labels (at i = 0:
  softmax_y(start(y) + e_0(y))); the end scores are not matched. A softmax
  teacher's distribution is the target for every y';
- parser: for each dependent d, the head distribution softmax_h(s(h, d)).
`local_kd_loss` compares distributions (KL(teacher || student));
`local_scores_loss` (`local_scores.py`) compares the scores they normalise.
For CRFs, `normalise="per_position"` instead normalises jointly over the
(previous label, label) pairs of each position (a softmax teacher's pair
distribution is the product of its two token distributions). The default
per-previous-label form (see docs/methods.md) cannot identify a CRF: adding
any bias a(y') to the transitions out of y' leaves every row's softmax unchanged
but changes the CRF's distribution (the demo measures the effect); the
per-position form is blind only to a constant per position, which cancels in Z.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import torch
from torch import Tensor

from ..structs import LinearChainCRF, StructuredDistribution, TokenSoftmax
from ..structs.arcs import ArcFactored
from .utils import check_temperature, per_token

SEQUENCES = (LinearChainCRF, TokenSoftmax)


def _local_scores(dist: StructuredDistribution) -> tuple:
    """Unnormalised local scores and the mask of their real entries: sequences
    `[B, N, L', L]` (L' previous labels: 1 for a softmax tagger), masked `[B, N, 1, 1]`;
    trees `[B, N+1, N+1]` (head first), masked by the real arcs."""
    if isinstance(dist, TokenSoftmax):
        return dist.logits[:, :, None, :], dist.mask[:, :, None, None]
    if isinstance(dist, LinearChainCRF):
        first = (dist.start + dist.emissions[:, 0])[:, None, None, :]
        first = first.expand(-1, -1, dist.n_labels, -1)
        rest = dist.emissions[:, 1:, None, :] + dist.transitions[:, None]
        return torch.cat([first, rest], dim=1), dist.mask[:, :, None, None]
    if isinstance(dist, ArcFactored):
        return dist.arc_scores, dist.arc_mask
    raise ValueError(f"local matching is not defined for a {type(dist).__name__}")


def check_local_pair(student: StructuredDistribution, teacher: StructuredDistribution) -> None:
    trees = isinstance(student, ArcFactored) and isinstance(teacher, ArcFactored)
    crf_to_softmax = isinstance(teacher, LinearChainCRF) and isinstance(student, TokenSoftmax)
    sequences = isinstance(student, SEQUENCES) and isinstance(teacher, SEQUENCES)
    if not (trees or (sequences and not crf_to_softmax)):
        raise ValueError(
            f"local matching from a {type(teacher).__name__} teacher to a "
            f"{type(student).__name__} student is not supported; supported: "
            "TokenSoftmax -> TokenSoftmax or LinearChainCRF, LinearChainCRF -> "
            "LinearChainCRF, DependencyCRF/HeadSelection -> DependencyCRF/HeadSelection "
            "(a CRF teacher's per-token distribution needs forward-backward: use "
            "structural KD for CRF -> softmax)"
        )
    if not torch.equal(student.lengths, teacher.lengths.to(student.lengths.device)):
        raise ValueError("student and teacher lengths differ")


NORMALISE = ("per_previous", "per_position")


def _pair_scores(dist: TokenSoftmax) -> Tensor:
    """`[B, N, L, L]` a softmax tagger's log-scores of (y_{i-1}, y_i) pairs: the sum
    of its two token log-probabilities (token 0 alone, repeated over y')."""
    log_p = dist.logits.log_softmax(-1)
    previous = torch.cat([torch.zeros_like(log_p[:, :1]), log_p[:, :-1]], dim=1)
    return previous[..., :, None] + log_p[..., None, :]


def local_kd_loss(
    student: StructuredDistribution,
    teacher: StructuredDistribution,
    temperature: float = 1.0,
    normalise: str = "per_previous",
) -> Tensor:
    """T^2 * sum over real tokens of the KL(teacher || student) between their local
    distributions (see the module docstring), over the number of real tokens;
    scores divided by T. Gradients reach the student only. `normalise` applies
    to CRF students: "per_previous" (a distribution over y for each (i, y'),
    averaged over y') or "per_position" (one distribution over (y', y) per i)."""
    if normalise not in NORMALISE:
        raise ValueError(f"normalise must be one of {NORMALISE}, got {normalise!r}")
    check_local_pair(student, teacher)
    temperature = check_temperature(temperature)
    if normalise == "per_previous" and isinstance(student, LinearChainCRF):
        total = _crf_local_kl_sum(student, teacher, temperature)
        if total is not None:
            total = total.to(student.emissions.dtype)
            return temperature**2 * per_token(total, student.lengths.sum())
    student_scores, mask = _local_scores(student)
    teacher_scores = _local_scores(teacher)[0].detach()
    if normalise == "per_position" and isinstance(student, LinearChainCRF):
        if isinstance(teacher, TokenSoftmax):
            teacher_scores = _pair_scores(teacher).detach()
        # Token 0 has no previous label: its rows repeat, which leaves its KL as is.
        student_scores, teacher_scores = student_scores.flatten(2), teacher_scores.flatten(2)
        mask = mask.flatten(2)
    # Head distributions normalise over dim 1 (heads), label ones over the last.
    dim = 1 if isinstance(student, ArcFactored) else -1
    student_log_p = (student_scores / temperature).log_softmax(dim)
    teacher_log_p = (teacher_scores / temperature).log_softmax(dim)
    teacher_p = teacher_log_p.exp()
    pointwise = torch.where(
        teacher_p > 0, teacher_p * (teacher_log_p - student_log_p), teacher_p.new_zeros(())
    )
    if isinstance(student, ArcFactored):
        total = (pointwise * mask).sum()
    elif pointwise.dim() == 3:
        total = (pointwise.sum(-1) * mask[..., 0]).sum()
    else:
        # Sum over labels, mean over the previous label (1 for a softmax student).
        total = (pointwise.sum(-1).mean(-1) * mask[..., 0, 0]).sum()
    return temperature**2 * per_token(total, student.lengths.sum())


# Below this a product of exponentials has lost its precision: fall back to the
# [B, N, L, L] log-sum-exp.
_TINY = 1e-280


class _LocalRows(NamedTuple):
    """A CRF's next-label rows softmax_y(u_i(y) + v(y', y)) for i >= 1, kept as
    factors: p[b, i, y', y] = e[b, i, y] * w[b, y', y] / s[b, i, y']."""

    log_norm: Tensor  # [B, N-1, L'] log s plus the maxima taken out
    e: Tensor  # [B, N-1, L] exp(u - max_y u)
    w: Tensor  # [B, L', L] exp(v - max_y v)
    s: Tensor  # [B, N-1, L'] e @ w^T


def _local_rows(u: Tensor, v: Tensor, mask: Tensor) -> Optional[_LocalRows]:
    """u `[B, N-1, L]` emissions of tokens 1.., v `[B, L, L]` transitions, both
    float64 and divided by T; mask `[B, N-1]`. Each row's normaliser is a matrix
    product of exponentials, O(N L^2) time with no `[B, N, L, L]` tensor. None
    where a real row's sum underflows (scores more than ~600 apart)."""
    u_max = u.amax(-1, keepdim=True)
    v_max = v.amax(-1, keepdim=True)
    e = (u - u_max).exp()
    w = (v - v_max).exp()
    s = e @ w.transpose(1, 2)
    if bool((s.amin(-1) < _TINY)[mask].any()):
        return None
    log_norm = u_max + v_max.transpose(1, 2) + s.clamp(min=_TINY).log()
    return _LocalRows(log_norm, e, w, s)


def _chain_scores(crf: LinearChainCRF, temperature: float) -> Tuple[Tensor, Tensor, Tensor]:
    """float64 scores / T: the first token's `[B, L]` (start + emissions), the
    later tokens' emissions `[B, N-1, L]`, the transitions `[B, L, L]`."""
    emissions = crf.emissions.double() / temperature
    first = crf.start.double() / temperature + emissions[:, 0]
    return first, emissions[:, 1:], crf.transitions.double() / temperature


def _sum_p_log_p(log_p: Tensor) -> Tensor:
    """sum of p log p over all entries, 0 where p = 0."""
    p = log_p.exp()
    return torch.where(p > 0, p * log_p, 0.0).sum()


def _crf_local_kl_sum(
    student: LinearChainCRF, teacher: StructuredDistribution, temperature: float
) -> Optional[Tensor]:
    """The per-previous-label local KL of a CRF student summed over real tokens,
    without `[B, N, L, L]` tensors. The KL of one row is
    sum_y p_t (score_t - score_s) - log Z_t + log Z_s, so averaged over y' it needs
    only the teacher's mean next-label probability per token (`[B, N, L]`), its
    mean (y', y) probability summed over tokens (`[B, L, L]`), and each side's
    row normalisers. float64; None where the factored form would lose precision
    (the caller then builds the rows)."""
    mask = student.mask[:, 1:]
    n_labels = student.n_labels
    if isinstance(teacher, LinearChainCRF):
        first_t, u_t, v_t = (x.detach() for x in _chain_scores(teacher, temperature))
        rows = _local_rows(u_t, v_t, mask)
        if rows is None:
            return None
        inverse = mask[..., None] / rows.s.clamp(min=_TINY)
        label_means = rows.e * (inverse @ rows.w) / n_labels
        pair_means = rows.w * (inverse.transpose(1, 2) @ rows.e) / n_labels
        teacher_first = first_t.log_softmax(-1)
        neg_entropy = (
            (label_means * u_t).sum()
            + (pair_means * v_t).sum()
            - (rows.log_norm.mean(-1) * mask).sum()
        )
    else:
        log_p = (teacher.logits.detach().double() / temperature).log_softmax(-1)
        label_means = log_p[:, 1:].exp() * mask[..., None]
        pair_means = label_means.sum(1)[:, None, :].expand(-1, n_labels, -1) / n_labels
        teacher_first = log_p[:, 0]
        neg_entropy = _sum_p_log_p(log_p[:, 1:][mask])
    first_s, u_s, v_s = _chain_scores(student, temperature)
    student_rows = _local_rows(u_s, v_s, mask)
    if student_rows is None:
        return None
    first_p = teacher_first.exp()
    neg_entropy = neg_entropy + _sum_p_log_p(teacher_first)
    cross = (first_p * first_s).sum() + (label_means * u_s).sum() + (pair_means * v_s).sum()
    log_norms = first_s.logsumexp(-1).sum() + (student_rows.log_norm.mean(-1) * mask).sum()
    return neg_entropy - cross + log_norms
