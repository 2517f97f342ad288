"""The training loss of the graph-based parser: arcs (tree CRF or head
selection) and labels, from gold where gold exists and from a teacher's targets
where they exist."""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
from torch import Tensor

from ..losses import token_kd_loss
from ..methods import kept_teacher_values, summed_kd_loss
from ..structs import DependencyCRF, HeadSelection
from ..structs.utils import NEG
from .memo import recall_derived
from .mixing import mix_gold_and_kd

OBJECTIVES = ("crf", "local")
# Arc scores enter the losses as ARC_CAP * tanh(score / ARC_CAP): |score| < 150
# keeps every column's range within what the single-root matrix-tree computation
# holds in float64 (see structs/matrix_tree.py), however confident the model
# grows; scores up to about 30 pass nearly unchanged (-1.3% at 30).
ARC_CAP = 150.0


def cap_arcs(arcs: Tensor) -> Tensor:
    return ARC_CAP * torch.tanh(arcs / ARC_CAP)


def arc_distribution(arcs: Tensor, lengths: Tensor, objective: str):
    """DependencyCRF (non-projective, single root) or HeadSelection over `arcs`."""
    if objective == "crf":
        return DependencyCRF(arcs, lengths)
    return HeadSelection(arcs, lengths)


def gold_arc_loss(arcs: Tensor, lengths: Tensor, objective: str, heads: Tensor) -> Tensor:
    """`[S]` negative log-likelihood of the gold heads `[S, n+1]` (-1: missing).
    Tree CRF: log Z - log Z(trees agreeing with the known heads), so unknown heads
    are marginalised out; head selection: cross-entropy at the known heads."""
    return _gold_arc_loss_and_log_z(arcs, lengths, objective, heads)[0]


def _gold_arc_loss_and_log_z(
    arcs: Tensor, lengths: Tensor, objective: str, heads: Tensor
) -> Tuple[Tensor, Optional[Tensor]]:
    """`gold_arc_loss`, and the tree CRF's log Z `[S]` it computed (None for head
    selection), which the KD terms reuse."""
    known = heads >= 0
    if objective == "local":
        log_p = arcs.masked_fill(~arc_mask(arcs, lengths), NEG).log_softmax(dim=1)
        picked = log_p.gather(1, heads.clamp(min=0)[:, None, :]).squeeze(1)
        return -(picked * known).sum(-1), None
    positions = torch.arange(arcs.shape[1], device=arcs.device)
    agrees = (positions[None, :, None] == heads[:, None, :]) | ~known[:, None, :]
    constrained = arcs.masked_fill(~agrees, NEG)
    log_z = DependencyCRF(arcs, lengths).log_partition
    return log_z - DependencyCRF(constrained, lengths).log_partition, log_z


def arc_mask(arcs: Tensor, lengths: Tensor) -> Tensor:
    positions = torch.arange(arcs.shape[1], device=arcs.device)
    nodes = positions[None, :] <= lengths[:, None]
    words = nodes & (positions[None, :] > 0)
    return nodes[:, :, None] & words[:, None, :] & (positions[:, None] != positions[None, :])


def label_loss(label_scores: Tensor, heads: Tensor, gold_labels: Tensor) -> Tensor:
    """`[S]` cross-entropy of the gold labels `[S, n+1]` (-1: missing), from the
    label scores `[S, n+1, L]` of each dependent at its gold head (`heads`, -1:
    missing)."""
    known = (heads >= 0) & (gold_labels >= 0)
    log_p = label_scores.log_softmax(-1)
    picked = log_p.gather(2, gold_labels.clamp(min=0)[..., None]).squeeze(-1)
    return -(picked * known).sum(-1)


def parser_loss(
    arcs: Tensor,
    lengths: Tensor,
    objective: str,
    gold_heads: Tensor,
    gold_labels: Tensor,
    labels_at_gold: Tensor,
    targets: List[Optional[dict]],
    labels_at_teacher: Optional[Tensor] = None,
) -> Tensor:
    """Scalar loss summed over words: per sentence `(1 - alpha) * gold + alpha * KD`
    where a teacher's targets exist, gold alone elsewhere.

    arcs: `[S, n+1, n+1]`; lengths: `[S]` words; gold_heads, gold_labels:
    `[S, n+1]`, -1 where missing; labels_at_gold: `[S, n+1, L]` the student's
    label scores of each word at its gold head; targets: per sentence None or a
    dict with "arcs" `[n+1, n+1]`, "labels" `[n, L]`, "heads" `[n]`, the
    ArcTargets' "objective", "method", "weight", "temperature" and optionally a
    "memo" dict that keeps the teacher's marginals for the next epoch;
    labels_at_teacher: `[S, n+1, L]` the student's label scores at the teacher's
    heads (needed when any sentence has targets). Both sides' arc scores are
    capped (`cap_arcs`) first.
    """
    arcs = cap_arcs(arcs)
    gold, log_z = _gold_arc_loss_and_log_z(arcs, lengths, objective, gold_heads)
    gold = gold + label_loss(labels_at_gold, gold_heads, gold_labels)

    def kd(key: tuple, rows: List[int]) -> Tensor:
        teacher_objective, method, temperature = key
        index = torch.tensor(rows, device=arcs.device)
        sub_lengths = lengths[index]
        teacher_arcs = arcs.new_zeros(len(rows), *arcs.shape[1:])
        n_labels = labels_at_teacher.shape[-1]
        teacher_labels = labels_at_teacher.new_zeros(len(rows), arcs.shape[1], n_labels)
        for row, i in enumerate(rows):
            n = int(lengths[i])
            target = targets[i]
            if target["arcs"].shape != (n + 1, n + 1) or target["labels"].shape[0] != n:
                raise ValueError(
                    f"teacher arcs {target['arcs'].shape} / labels {target['labels'].shape} "
                    f"do not match a sentence of {n} words"
                )
            teacher_arcs[row, : n + 1, : n + 1] = torch.as_tensor(target["arcs"]).to(arcs)
            teacher_labels[row, 1 : n + 1] = torch.as_tensor(target["labels"]).to(arcs)
        student = arc_distribution(arcs[index], sub_lengths, objective)
        if log_z is not None:
            student.with_log_partition(log_z[index])
        teacher = arc_distribution(cap_arcs(teacher_arcs), sub_lengths, teacher_objective)
        recall_derived(
            teacher,
            [targets[i].get("memo") for i in rows],
            [int(n) + 1 for n in sub_lengths],
            arcs.shape[1],
            kept_teacher_values(method, student, teacher),
            temperature,
            {"marginals": 2},
        )
        student_labels = labels_at_teacher[index][:, 1:]
        labels_kd = token_kd_loss(student_labels, teacher_labels[:, 1:], sub_lengths, temperature)
        return summed_kd_loss(student, teacher, method, temperature) + sub_lengths.sum() * labels_kd

    weights = [0.0 if t is None else t["weight"] for t in targets]
    groups = [
        None if t is None else (t["objective"], t["method"], t["temperature"]) for t in targets
    ]
    return mix_gold_and_kd(gold, weights, groups, kd)
