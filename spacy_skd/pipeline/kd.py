"""KD by method name, summed over tokens (or words) as the components' losses are."""

from __future__ import annotations

from typing import Optional

from torch import Tensor

from ..losses import local_kd_loss, local_scores_loss, structural_kd_loss
from ..structs import StructuredDistribution


def summed_kd_loss(
    student: StructuredDistribution,
    teacher: StructuredDistribution,
    method: str,
    temperature: float,
) -> Optional[Tensor]:
    """The KD loss of `method` summed over the student's tokens (the losses return
    a per-token mean), for the methods every component means the same way:
    "structural", "local", "local_scores" and "hard" (the student's NLL of the
    teacher's best structure). None for "token", which each component defines."""
    n_tokens = student.lengths.sum()
    if method == "structural":
        return structural_kd_loss(student, teacher, temperature) * n_tokens
    if method == "local":
        return local_kd_loss(student, teacher, temperature) * n_tokens
    if method == "local_scores":
        return local_scores_loss(student, teacher, temperature) * n_tokens
    if method == "hard":
        return -student.log_prob(teacher.argmax.clamp(min=0)).sum()
    return None
