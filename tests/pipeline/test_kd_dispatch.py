"""The method names reach the right loss, summed over tokens."""

import pytest
import torch

from spacy_skd.losses import local_scores_loss
from spacy_skd.pipeline.kd import LOCAL_SCORES, summed_kd_loss
from spacy_skd.structs import DependencyCRF, LinearChainCRF


def crf(seed: int, scale: float = 1.0) -> LinearChainCRF:
    generator = torch.Generator().manual_seed(seed)
    emissions = torch.randn(2, 4, 3, generator=generator, dtype=torch.float64) * scale
    transitions = torch.randn(3, 3, generator=generator, dtype=torch.float64) * scale
    return LinearChainCRF(emissions, transitions, torch.tensor([4, 2]))


def tree(seed: int, scale: float = 1.0) -> DependencyCRF:
    generator = torch.Generator().manual_seed(seed)
    arcs = torch.randn(2, 5, 5, generator=generator, dtype=torch.float64) * scale
    return DependencyCRF(arcs, torch.tensor([4, 2]))


@pytest.mark.parametrize("make", [crf, tree])
@pytest.mark.parametrize(
    "method,scale",
    [("local_scores", "relative"), ("local_scores_spread", "spread"), ("local_scores_raw", "raw")],
)
def test_local_scores_methods(make, method, scale):
    student, teacher = make(0), make(1, scale=5.0)
    expected = local_scores_loss(student, teacher, scale=scale) * 6
    assert torch.allclose(summed_kd_loss(student, teacher, method, 1.0), expected)


def test_the_local_scores_methods_differ():
    student, teacher = crf(0), crf(1, scale=5.0)
    values = [summed_kd_loss(student, teacher, m, 1.0) for m in LOCAL_SCORES]
    assert len({round(float(v), 6) for v in values}) == 3


def test_raw_and_relative_differ_with_the_teachers_scale():
    student = crf(0)
    raw = [summed_kd_loss(student, crf(1, scale=s), "local_scores_raw", 1.0) for s in (1, 100)]
    relative = summed_kd_loss(student, crf(1, scale=100), "local_scores", 1.0)
    # the raw error grows with the square of the teacher's scores; against a
    # teacher this far off the student knows next to nothing: about 1 a token
    assert raw[1] > 1000 * raw[0]
    assert relative == pytest.approx(6.0, rel=0.02)
