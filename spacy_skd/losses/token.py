"""Token-level KD: match per-token label distributions (Hinton et al. 2015)."""

from __future__ import annotations

from typing import Optional

from torch import Tensor

from .utils import check_same_shape, check_temperature, per_token, token_mask

KINDS = ("kl", "ce")


def token_kd_loss(
    student_logits: Tensor,
    teacher_logits: Tensor,
    lengths: Optional[Tensor] = None,
    temperature: float = 1.0,
    kind: str = "kl",
) -> Tensor:
    """T^2 * sum over real tokens of KL(p_t || p_s) ("kl") or -sum p_t log p_s
    ("ce"), divided by the number of real tokens, where p = softmax(logits / T).

    student_logits, teacher_logits: `[B, N, L]`; lengths: `[B]` (None: all real).
    "kl" and "ce" differ by the teacher's entropy, a constant for the student.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    check_same_shape("student_logits", student_logits, "teacher_logits", teacher_logits)
    temperature = check_temperature(temperature)
    mask = token_mask(student_logits, lengths)
    teacher_log_p = (teacher_logits.detach() / temperature).log_softmax(-1)
    student_log_p = (student_logits / temperature).log_softmax(-1)
    teacher_p = teacher_log_p.exp()
    per_label = -teacher_p * student_log_p
    if kind == "kl":
        per_label = per_label + teacher_p * teacher_log_p
    total = (per_label.sum(-1) * mask).sum()
    return temperature**2 * per_token(total, mask.sum())
