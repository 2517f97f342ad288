"""Structural KD (Wang et al., ACL 2021): the exact cross-entropy between a teacher
and a student distribution over structures, factorised over the student's
sub-structures:

    KD = -sum_u P_t(u) * s_s(u) + log Z_s

P_t(u) are the teacher's marginals over the student's sub-structures, so the
sum over exponentially many structures is never enumerated.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..structs import (
    DependencyCRF,
    HeadSelection,
    LinearChainCRF,
    SemiMarkovCRF,
    StructuredDistribution,
    TokenSoftmax,
)
from .utils import check_temperature, per_token

TREES = (DependencyCRF, HeadSelection)
# teacher class -> the student classes it can teach structurally
STRUCTURAL_PAIRS = {
    LinearChainCRF: (LinearChainCRF, TokenSoftmax),
    TokenSoftmax: (LinearChainCRF, TokenSoftmax),
    SemiMarkovCRF: (LinearChainCRF, TokenSoftmax),
    DependencyCRF: TREES,
    HeadSelection: TREES,
}


class _Constant:
    """A view of a distribution whose tensors are computed without a graph:
    teacher targets are constants."""

    def __init__(self, dist: StructuredDistribution):
        self._dist = dist

    def __getattr__(self, name: str):
        with torch.no_grad():
            value = getattr(self._dist, name)
        return value.detach() if isinstance(value, Tensor) else value


def check_structural_pair(student: StructuredDistribution, teacher: StructuredDistribution) -> None:
    """Raise a ValueError naming both sides unless `teacher` can teach `student`."""
    allowed = STRUCTURAL_PAIRS.get(type(teacher), ())
    if not isinstance(student, allowed):
        pairs = "; ".join(
            f"{t.__name__} -> {', '.join(s.__name__ for s in students)}"
            for t, students in STRUCTURAL_PAIRS.items()
        )
        raise ValueError(
            f"structural KD from a {type(teacher).__name__} teacher to a "
            f"{type(student).__name__} student is not supported; supported: {pairs}"
        )


def structural_kd_loss(
    student: StructuredDistribution,
    teacher: StructuredDistribution,
    temperature: float = 1.0,
) -> Tensor:
    """T^2 * sum over sentences of CE(P_t, P_s) / number of real tokens, with both
    distributions' scores divided by T. Gradients reach the student only.

    Pairs (teacher -> student): LinearChainCRF, TokenSoftmax or SemiMarkovCRF ->
    LinearChainCRF or TokenSoftmax over the same labels (tags); DependencyCRF or
    HeadSelection -> DependencyCRF or HeadSelection. Where the teacher's support
    is larger than the student's (head selection, non-projective or multi-root
    trees -> a projective or single-root tree CRF), the student's log-probability
    is extended by the same arc-factored formula to the structures it excludes.
    """
    check_structural_pair(student, teacher)
    if student.lengths.shape != teacher.lengths.shape or not torch.equal(
        student.lengths, teacher.lengths.to(student.lengths.device)
    ):
        raise ValueError("student and teacher lengths differ")
    temperature = check_temperature(temperature)
    if temperature != 1.0:
        student = student.tempered(temperature)
        teacher = teacher.tempered(temperature)
    cross_entropy = student.log_partition - student.expected_score(_Constant(teacher))
    return temperature**2 * per_token(cross_entropy.sum(), student.lengths.sum())
