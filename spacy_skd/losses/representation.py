"""Distillation from internal representations (Aguilar et al., AAAI 2020): hidden
states through a learned projection, and attention distributions."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from .utils import check_same_shape, per_token, token_mask

HIDDEN_KINDS = ("mse", "cosine")


def hidden_state_loss(
    student: Tensor, teacher: Tensor, lengths: Optional[Tensor] = None, kind: str = "cosine"
) -> Tensor:
    """Sum over real tokens of 1 - cos(h_s, h_t) ("cosine") or the mean squared
    difference over features ("mse"), divided by the number of real tokens.

    student, teacher: `[B, N, D]` token vectors of the same width (project the
    student first when widths differ: `HiddenStateLoss`); lengths: `[B]`.
    """
    if kind not in HIDDEN_KINDS:
        raise ValueError(f"kind must be one of {HIDDEN_KINDS}, got {kind!r}")
    check_same_shape("student", student, "teacher", teacher)
    mask = token_mask(student, lengths)
    teacher = teacher.detach()
    if kind == "mse":
        per_tok = ((student - teacher) ** 2).mean(-1)
    else:
        per_tok = 1.0 - torch.cosine_similarity(student, teacher, dim=-1, eps=1e-8)
    return per_token((per_tok * mask).sum(), mask.sum())


class HiddenStateLoss(nn.Module):
    """`hidden_state_loss` after a learned linear map W from the student's width to
    the teacher's (`1 - cos(W h_s, h_t)` or MSE); no map when the widths agree.

    forward(student `[B, N, student_width]`, teacher `[B, N, teacher_width]`,
    lengths `[B]`) -> scalar.
    """

    def __init__(self, student_width: int, teacher_width: int, kind: str = "cosine"):
        super().__init__()
        if kind not in HIDDEN_KINDS:
            raise ValueError(f"kind must be one of {HIDDEN_KINDS}, got {kind!r}")
        self.kind = kind
        self.projection = (
            nn.Identity()
            if student_width == teacher_width
            else nn.Linear(student_width, teacher_width)
        )

    def forward(self, student: Tensor, teacher: Tensor, lengths: Optional[Tensor] = None) -> Tensor:
        return hidden_state_loss(self.projection(student), teacher, lengths, self.kind)


def attention_kd_loss(
    student_attention: Tensor,
    teacher_attention: Tensor,
    lengths: Optional[Tensor] = None,
    eps: float = 1e-12,
) -> Tensor:
    """KL(A_t || A_s) for every attention row (one head, one real query token),
    averaged over heads, summed over tokens and divided by the number of real tokens.

    student_attention, teacher_attention: `[B, H, N, N]` attention probabilities
    (rows sum to 1 over the real keys); lengths: `[B]`. Both sides need the same
    number of heads.
    """
    check_same_shape("student_attention", student_attention, "teacher_attention", teacher_attention)
    if student_attention.dim() != 4:
        raise ValueError(
            f"attention must have shape [B, H, N, N], got {tuple(student_attention.shape)}"
        )
    mask = token_mask(student_attention.transpose(1, 2), lengths)
    keys = mask[:, None, None, :]
    teacher = teacher_attention.detach() * keys
    student = student_attention * keys
    pointwise = torch.where(
        teacher > 0,
        teacher * (teacher.clamp(min=eps).log() - student.clamp(min=eps).log()),
        teacher.new_zeros(()),
    )
    per_tok = pointwise.sum(-1).mean(1)
    return per_token((per_tok * mask).sum(), mask.sum())
