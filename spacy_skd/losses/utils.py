"""Masking and normalisation shared by the losses."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ..structs.utils import check_lengths, sequence_mask


def token_mask(scores: Tensor, lengths: Optional[Tensor]) -> Tensor:
    """`[B, N]` True at real tokens of `scores [B, N, ...]`; every token when
    `lengths` is None."""
    if scores.dim() < 2:
        raise ValueError(f"scores must be at least [B, N], got shape {tuple(scores.shape)}")
    batch, n_max = scores.shape[:2]
    if lengths is None:
        return torch.ones(batch, n_max, dtype=torch.bool, device=scores.device)
    return sequence_mask(check_lengths(lengths, batch, n_max).to(scores.device), n_max)


def check_same_shape(
    student_name: str, student: Tensor, teacher_name: str, teacher: Tensor
) -> None:
    if student.shape != teacher.shape:
        raise ValueError(
            f"{student_name} {tuple(student.shape)} and {teacher_name} {tuple(teacher.shape)} "
            "must have the same shape"
        )


def check_temperature(temperature: float) -> float:
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return float(temperature)


def per_token(total: Tensor, n_tokens: Tensor) -> Tensor:
    """The loss convention: a sum over sentences divided by the number of real tokens."""
    return total / n_tokens.clamp(min=1)
