"""KD by method name, summed over tokens (or words) as the components' losses are."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch
from torch import Tensor

from ..losses import local_kd_loss, local_scores_loss, structural_kd_loss
from ..structs import StructuredDistribution

# The local_scores methods and the `scale` of `local_scores_loss` each uses.
LOCAL_SCORES = {
    "local_scores": "relative",
    "local_scores_spread": "spread",
    "local_scores_raw": "raw",
}


def summed_kd_loss(
    student: StructuredDistribution,
    teacher: StructuredDistribution,
    method: str,
    temperature: float,
) -> Optional[Tensor]:
    """The KD loss of `method` summed over the student's tokens (the losses return
    a per-token mean), for the methods every component means the same way:
    "structural", "local", "local_scores" (relative to a student that knows
    nothing), "local_scores_spread" (divided by the teacher's spread of scores),
    "local_scores_raw" (Lin et al.'s MSE of the raw scores) and "hard"
    (the student's NLL of the teacher's best structure). None for "token", which
    each component defines."""
    n_tokens = student.lengths.sum()
    if method == "structural":
        return structural_kd_loss(student, teacher, temperature) * n_tokens
    if method == "local":
        return local_kd_loss(student, teacher, temperature) * n_tokens
    if method in LOCAL_SCORES:
        scale = LOCAL_SCORES[method]
        return local_scores_loss(student, teacher, temperature, scale=scale) * n_tokens
    if method == "hard":
        return -student.log_prob(teacher.argmax.clamp(min=0)).sum()
    return None


def recall_derived(
    teacher: StructuredDistribution,
    memos: List[Dict],
    sizes: Sequence[int],
    n_pad: int,
    names: Sequence[str],
    temperature: float,
    padded: Dict[str, int],
) -> None:
    """Give `teacher` (built from the scores of the docs or sentences whose memo
    dicts are `memos`) the values of its properties `names` at `temperature`
    from those memos, computing them for the whole batch when one lacks them (in
    practice: the first epoch) and keeping each row's share.

    sizes: each row's real extent along its padded dimensions, `n_pad` the
    teacher's (N for sequences, N+1 for arcs); padded: per name, how many
    leading dimensions after the batch are padded (sequence marginals
    `[B, N, L]`: 1, arc marginals `[B, N+1, N+1]`: 2, transition counts: 0).
    """
    if not names:
        return
    keys = [(temperature, name) for name in names]
    if not all(key in memo for memo in memos for key in keys):
        view = teacher.tempered(temperature) if temperature != 1.0 else teacher
        with torch.no_grad():
            values = {name: getattr(view, name).detach() for name in names}
        for row, (memo, size) in enumerate(zip(memos, sizes)):
            for name, value in values.items():
                share = value[row][(slice(size),) * padded[name]]
                memo[(temperature, name)] = share.clone()  # not a view of the batch
    given = {}
    for name in names:
        rows = [memo[(temperature, name)] for memo in memos]
        dims = padded[name]
        batch = rows[0].new_full((len(rows), *(n_pad,) * dims, *rows[0].shape[dims:]), 0.0)
        for row, (value, size) in enumerate(zip(rows, sizes)):
            batch[row][(slice(size),) * dims] = value
        given[name] = batch
    teacher.knowing(temperature, **given)
