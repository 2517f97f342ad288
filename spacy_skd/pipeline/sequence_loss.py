"""The training loss of a sequence labeller (softmax or CRF output layer): gold
where gold exists, mixed with KD where a teacher's targets exist."""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
from torch import Tensor

from ..methods import kept_teacher_values, summed_kd_loss
from ..structs import LinearChainCRF, TokenSoftmax
from ..structs.utils import NEG
from ..targets import SequenceTargets
from .memo import recall_derived
from .mixing import mix_gold_and_kd


def build_distribution(
    scores: Tensor, lengths: Tensor, crf: Optional[tuple]
) -> LinearChainCRF | TokenSoftmax:
    """TokenSoftmax over `scores [B, N, L]`, or a LinearChainCRF when `crf` holds
    (transitions `[L, L]`, start `[L]`, end `[L]`)."""
    if crf is None:
        return TokenSoftmax(scores, lengths)
    transitions, start, end = crf
    return LinearChainCRF(scores, transitions, lengths, start, end)


def gold_loss(
    student_scores: Tensor,
    lengths: Tensor,
    crf: Optional[tuple],
    gold: Tensor,
    label_smoothing: float = 0.0,
) -> Tensor:
    """`[B]` negative log-likelihood of the gold labels `[B, N]` (-1: missing).

    Softmax: cross-entropy summed over the labelled tokens, against targets
    smoothed like spaCy's taggers' (`label_smoothing` e: 1 - e on the gold label,
    e / (L - 1) on each other). CRF: the partial-label likelihood
    -log sum_{y agreeing with the gold labels} P(y) = log Z - log Z_gold, so
    unlabelled tokens are marginalised out, not guessed.
    """
    return _gold_loss_and_log_z(student_scores, lengths, crf, gold, label_smoothing)[0]


def _gold_loss_and_log_z(
    student_scores: Tensor,
    lengths: Tensor,
    crf: Optional[tuple],
    gold: Tensor,
    label_smoothing: float = 0.0,
) -> Tuple[Tensor, Optional[Tensor]]:
    """`gold_loss`, and the student CRF's log Z `[B]` that it computed (None for
    a softmax), which the KD terms reuse."""
    labelled = gold >= 0
    if crf is None:
        log_p = student_scores.log_softmax(-1)
        picked = log_p.gather(2, gold.clamp(min=0)[..., None]).squeeze(-1)
        if label_smoothing:
            n_labels = student_scores.shape[-1]
            others = log_p.sum(-1) - picked
            on, off = 1.0 - label_smoothing, label_smoothing / max(n_labels - 1, 1)
            picked = on * picked + off * others
        return -(picked * labelled).sum(-1), None
    if label_smoothing:
        raise ValueError("label_smoothing applies to a softmax output layer, not a CRF")
    allowed = torch.nn.functional.one_hot(gold.clamp(min=0), student_scores.shape[-1]).bool()
    allowed = allowed | ~labelled[..., None]
    constrained = student_scores.masked_fill(~allowed, NEG)
    # Both partition functions in one batch: one forward loop instead of two.
    both = build_distribution(
        torch.cat([student_scores, constrained]), lengths.repeat(2), crf
    ).log_partition
    log_z = both[: len(lengths)]
    return log_z - both[len(lengths) :], log_z


def sequence_loss(
    student_scores: Tensor,
    lengths: Tensor,
    crf: Optional[tuple],
    gold: Tensor,
    targets: List[Optional[SequenceTargets]],
    label_smoothing: float = 0.0,
) -> Tensor:
    """Scalar loss summed over tokens, like spaCy's taggers: for each doc
    `(1 - alpha) * gold + alpha * KD` where it has targets, gold alone where it
    has none (missing gold contributes nothing).

    student_scores: `[B, N, L]`; lengths: `[B]` (>= 1); crf: the student's CRF
    parameters or None; gold: `[B, N]` label ids, -1 where missing; targets: per
    doc, a teacher's SequenceTargets or None; label_smoothing: of the gold
    targets of a softmax student (see `gold_loss`).
    """
    gold_losses, log_z = _gold_loss_and_log_z(student_scores, lengths, crf, gold, label_smoothing)

    def kd(key: tuple, rows: List[int]) -> Tensor:
        method, temperature, _ = key
        index = torch.tensor(rows, device=student_scores.device)
        student = build_distribution(student_scores[index], lengths[index], crf)
        if log_z is not None:
            student.with_log_partition(log_z[index])
        group = [targets[i] for i in rows]
        teacher = teacher_distribution(group, student_scores, lengths[index])
        recall_derived(
            teacher,
            [target.memo for target in group],
            [int(n) for n in lengths[index]],
            student_scores.shape[1],
            kept_teacher_values(method, student, teacher),
            temperature,
            {"marginals": 1, "transition_counts": 0},
        )
        return summed_kd_loss(student, teacher, method, temperature)

    weights = [0.0 if t is None else t.weight for t in targets]
    groups = [None if t is None else (t.method, t.temperature, t.is_crf) for t in targets]
    return mix_gold_and_kd(gold_losses, weights, groups, kd)


def teacher_distribution(
    targets: List[SequenceTargets], like: Tensor, lengths: Tensor
) -> LinearChainCRF | TokenSoftmax:
    """The teacher's distribution over the docs of `targets` (all CRF or all
    softmax), its scores padded to `like`'s `[B, N, L]` shape, dtype and device;
    lengths: `[B]`."""
    n_max, n_labels = like.shape[1], like.shape[2]
    scores = like.new_zeros(len(targets), n_max, n_labels)
    for row, target in enumerate(targets):
        if target.scores.shape != (int(lengths[row]), n_labels):
            raise ValueError(
                f"teacher scores of shape {target.scores.shape} do not match a doc of "
                f"{int(lengths[row])} tokens and {n_labels} labels"
            )
        scores[row, : target.scores.shape[0]] = torch.as_tensor(target.scores).to(like)
    if not targets[0].is_crf:
        return TokenSoftmax(scores, lengths)

    def stack(name: str) -> Tensor:
        values = [torch.as_tensor(getattr(t, name), dtype=like.dtype) for t in targets]
        return torch.stack(values).to(like.device)

    return LinearChainCRF(scores, stack("transitions"), lengths, stack("start"), stack("end"))
