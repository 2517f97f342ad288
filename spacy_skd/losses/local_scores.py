"""Local score matching (Lin et al. 2022, "efficient sub-structured KD"): the
squared error between the teacher's and the student's scores of every local
sub-structure (`local.py` matches the distributions they normalise), each
centred where only differences matter (arcs per dependent; by default CRF scores
too) and, by default, relative to the teacher's own spread of scores (`SCALES`).
"""

from __future__ import annotations

from typing import NamedTuple, Tuple

import torch
from torch import Tensor

from ..structs import LinearChainCRF, StructuredDistribution
from ..structs.arcs import ArcFactored
from ..structs.utils import NEG
from .local import check_local_pair
from .utils import check_same_shape, check_temperature, per_token

# What `local_scores_loss` divides its summed squared error by.
SCALES = ("relative", "spread", "raw")


def _masked_mean(scores: Tensor, mask: Tensor, dims: Tuple[int, ...]) -> Tensor:
    """The mean of `scores` over `dims` where `mask` (bool) holds, dims kept."""
    count = mask.sum(dims, keepdim=True).clamp(min=1)
    return torch.where(mask, scores, 0.0).sum(dims, keepdim=True) / count


def _centred(arc_scores: Tensor, arc_mask: Tensor) -> Tensor:
    return (arc_scores - _masked_mean(arc_scores, arc_mask, (1,))) * arc_mask


class _CrfParts(NamedTuple):
    """A CRF's matched scores: emissions `[B, N, L]`, transitions `[B, L, L]`,
    start `[B, L]`."""

    emissions: Tensor
    transitions: Tensor
    start: Tensor


def _centred_pair(student: Tensor, teacher: Tensor, dims: Tuple[int, ...]) -> Tuple[Tensor, Tensor]:
    """Both score tensors minus their mean over `dims`, the mean taken over the
    entries allowed on both sides (the matched ones, so an unmatched part gets
    no gradient); the other entries stay as they are."""
    allowed = _allowed(student, teacher)

    def centred(scores: Tensor) -> Tensor:
        return torch.where(allowed, scores - _masked_mean(scores, allowed, dims), scores)

    return centred(student), centred(teacher)


# The dims over which each CRF part's scores may shift together without changing
# the distribution: a token's emissions, the start scores, all transitions (each
# shift adds the same to every path).
_SHIFT_DIMS = _CrfParts(emissions=(-1,), transitions=(-2, -1), start=(-1,))


def _crf_parts(
    student: LinearChainCRF, teacher: LinearChainCRF, centred: bool
) -> Tuple[_CrfParts, _CrfParts]:
    """The scores `local_scores_loss` matches, the teacher's detached; `centred`:
    each part with its shift (`_SHIFT_DIMS`) removed."""
    ours = _CrfParts(student.emissions, student.transitions, student.start)
    theirs = _CrfParts(teacher.emissions, teacher.transitions, teacher.start)
    theirs = _CrfParts(*(part.detach() for part in theirs))
    if not centred:
        return ours, theirs
    pairs = [_centred_pair(s, t, dims) for s, t, dims in zip(ours, theirs, _SHIFT_DIMS)]
    return _CrfParts(*(s for s, _ in pairs)), _CrfParts(*(t for _, t in pairs))


def _knowing_nothing(parts: _CrfParts) -> _CrfParts:
    """A student with all scores 0 that forbids what `parts` forbids."""
    return _CrfParts(*(torch.where(p > NEG / 2, 0.0, p).detach() for p in parts))


def local_scores_loss(
    student: StructuredDistribution,
    teacher: StructuredDistribution,
    temperature: float = 1.0,
    with_transitions: bool = True,
    scale: str = "relative",
) -> Tensor:
    """Lin et al.'s score matching: per real token, the mean squared difference of
    the local scores, summed and divided by the number of real tokens.

    CRF -> CRF: e_i(y) + t(y', y) over all (y', y) (`with_transitions`, their
    `struct_with_trans`), or e_i(y) alone (`struct_wo_trans`); trees: arc scores
    centred per dependent, mean over its possible heads. CRF parts forbidden on
    either side (score NEG) are not matched: they add 0 to the mean.

    `scale` (one of `SCALES`) sets what the summed error is divided by, a
    constant per batch (so "relative" and "spread" share their minimiser).
    "relative" (the default) makes the loss's value free of the teacher's score
    scale: CRF scores are centred as the arcs are (`_crf_parts`), and the error
    is divided by the one a student with all scores equal would have against
    this teacher: 0 for a perfect match, 1 for a student that knows nothing.
    Its gradient, though, shrinks as 1 / the teacher's spread of scores.
    "spread" (centred too) divides the per-token error by the square root of
    that baseline instead, i.e. by the teacher's root-mean-square centred score:
    then the gradient with respect to the student's scores is what it would be
    with both sides' scores scaled to any common size (on the MiniLM teacher's
    targets, the KD gradient is 0.03-0.25 times the gold loss's with "relative",
    0.28-0.56 with "spread", which nonetheless trained a worse student than
    "relative" in the one run made; bench/notes/distillation.md). "raw" is Lin et al.'s loss on
    the raw CRF scores, whose size grows with the square of the teacher's scores
    (its parser KD gradient is 4-5x the gold loss's there: it drowns gold).
    Scores are divided by T and the loss multiplied by T^2, so T cancels.
    """
    trees = isinstance(student, ArcFactored) and isinstance(teacher, ArcFactored)
    crfs = isinstance(student, LinearChainCRF) and isinstance(teacher, LinearChainCRF)
    if not (trees or crfs):
        raise ValueError(
            f"local_scores matching from a {type(teacher).__name__} teacher to a "
            f"{type(student).__name__} student is not supported: it needs two "
            "LinearChainCRFs or two tree distributions (raw scores of the same parts)"
        )
    check_local_pair(student, teacher)
    check_temperature(temperature)
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    # Scores / T, loss * T^2: T cancels, so neither is applied.
    if trees:
        mask = student.arc_mask
        target = _centred(teacher.arc_scores.detach(), mask)
        diff = _centred(student.arc_scores, mask) - target
        heads = mask.sum(1).clamp(min=1)
        total = ((diff**2 * mask).sum(1) / heads).sum()
        baseline = ((target**2 * mask).sum(1) / heads).sum()
    else:
        check_same_shape(
            "student emissions", student.emissions, "teacher emissions", teacher.emissions
        )
        ours, theirs = _crf_parts(student, teacher, centred=scale != "raw")
        nothing = _knowing_nothing(ours)

        def squared(s: _CrfParts, t: _CrfParts) -> Tensor:
            if with_transitions:
                return _squared_part_errors(s, t) / student.n_labels**2
            return _difference(s.emissions, t.emissions).pow(2).mean(-1)

        total = (squared(ours, theirs) * student.mask).sum()
        baseline = (squared(nothing, theirs) * student.mask).sum()
    n_tokens = student.lengths.sum()
    floor = 1e-6 * float(n_tokens)
    if scale == "relative":
        return total / baseline.clamp(min=floor)
    if scale == "spread":
        return total / (baseline.clamp(min=floor) * n_tokens).sqrt()
    return per_token(total, n_tokens)


def _allowed(student_scores: Tensor, teacher_scores: Tensor) -> Tensor:
    """Where neither side forbids the part (score NEG)."""
    return (student_scores > NEG / 2) & (teacher_scores > NEG / 2)


def _difference(student_scores: Tensor, teacher_scores: Tensor) -> Tensor:
    """student - teacher where both are allowed, 0 elsewhere: a forbidden part
    (score NEG, e.g. an impossible BILUO transition) has no score to match, and
    matching it to an allowed one would square ~1e30."""
    allowed = _allowed(student_scores, teacher_scores)
    return torch.where(allowed, student_scores - teacher_scores.detach(), 0.0)


def _squared_part_errors(student: _CrfParts, teacher: _CrfParts) -> Tensor:
    """`[B, N]` per token, the sum over its L x L local parts of the squared
    difference of the part scores e_i(y) + t(y', y) (token 0: start(y) + e_0(y),
    once per y'), over the parts allowed on both sides.

    With emission differences d_e and transition differences d_t, each part's
    error is (d_e(y) + d_t(y', y))^2; summed over y' it expands into
    n(y) d_e(y)^2 + sum_y' d_t(y', y)^2 + 2 d_e(y) sum_y' d_t(y', y) (n: the
    allowed y'), so no `[B, N, L, L]` tensor is built.
    """
    n_labels = student.emissions.shape[-1]
    d_emit = _difference(student.emissions, teacher.emissions)
    emit_ok = _allowed(student.emissions, teacher.emissions)
    d_move = _difference(student.transitions, teacher.transitions)
    n_previous = _allowed(student.transitions, teacher.transitions).sum(1)
    rest = (
        d_emit[:, 1:] ** 2 * n_previous[:, None].to(d_emit.dtype)
        + (d_move**2).sum(1)[:, None]
        + 2 * d_emit[:, 1:] * d_move.sum(1)[:, None]
    ) * emit_ok[:, 1:]
    d_first = _difference(
        student.start + student.emissions[:, 0], teacher.start + teacher.emissions[:, 0]
    )
    first = d_first**2 * n_labels
    return torch.cat([first[:, None], rest], dim=1).sum(-1)
