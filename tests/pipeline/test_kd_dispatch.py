"""The method names reach the right loss, summed over tokens, for every pair of
outputs that `METHODS_BY_OUTPUTS` says they serve."""

import pytest
import torch

from spacy_skd.losses import local_scores_loss
from spacy_skd.methods import (
    LOCAL_SCORES,
    METHODS,
    METHODS_BY_OUTPUTS,
    kept_teacher_values,
    summed_kd_loss,
)
from spacy_skd.structs import DependencyCRF, HeadSelection, LinearChainCRF, TokenSoftmax


def crf(seed: int, scale: float = 1.0) -> LinearChainCRF:
    generator = torch.Generator().manual_seed(seed)
    emissions = torch.randn(2, 4, 3, generator=generator, dtype=torch.float64) * scale
    transitions = torch.randn(3, 3, generator=generator, dtype=torch.float64) * scale
    return LinearChainCRF(emissions, transitions, torch.tensor([4, 2]))


def softmax(seed: int) -> TokenSoftmax:
    return TokenSoftmax(crf(seed).emissions, torch.tensor([4, 2]))


def tree(seed: int, scale: float = 1.0) -> DependencyCRF:
    generator = torch.Generator().manual_seed(seed)
    arcs = torch.randn(2, 5, 5, generator=generator, dtype=torch.float64) * scale
    return DependencyCRF(arcs, torch.tensor([4, 2]))


def heads(seed: int) -> HeadSelection:
    return HeadSelection(tree(seed).arc_scores, torch.tensor([4, 2]))


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


def test_token_on_trees_is_the_local_form():
    student, teacher = tree(0), tree(1, scale=3.0)
    local = summed_kd_loss(student, teacher, "local", 2.0)
    assert torch.equal(summed_kd_loss(student, teacher, "token", 2.0), local)


def test_token_on_a_crf_teacher_matches_its_unary_marginals():
    student, teacher = crf(0), crf(1, scale=3.0)
    marginals = teacher.tempered(2.0).marginals
    log_q = (student.emissions / 2.0).log_softmax(-1)
    kl = (marginals * (marginals.clamp(min=1e-300).log() - log_q)).sum(-1)
    real = torch.arange(4)[None, :] < student.lengths[:, None]
    expected = 2.0**2 * kl[real].sum()
    assert torch.allclose(summed_kd_loss(student, teacher, "token", 2.0), expected)


def test_an_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown KD method 'magic'; known: token, structural"):
        summed_kd_loss(crf(0), crf(1), "magic", 1.0)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_has_a_loss_for_every_pair_it_serves(method):
    sequences = {"sequence-crf": crf, "sequence-softmax": softmax}
    trees = {"tree-crf": tree, "tree-local": heads}
    builders = {**sequences, **trees}
    for (teacher, student), methods in METHODS_BY_OUTPUTS.items():
        if method in methods and teacher in builders and student in builders:
            loss = summed_kd_loss(builders[student](0), builders[teacher](1), method, 1.0)
            assert torch.isfinite(loss), (teacher, student)


def test_the_kept_teacher_values_are_what_each_method_reads():
    assert kept_teacher_values("structural", crf(0), crf(1)) == ("marginals", "transition_counts")
    assert kept_teacher_values("structural", softmax(0), crf(1)) == ("marginals",)
    assert kept_teacher_values("token", softmax(0), crf(1)) == ("marginals",)
    assert kept_teacher_values("local", crf(0), crf(1)) == ()
    assert kept_teacher_values("structural", tree(0), tree(1)) == ("marginals",)
    assert kept_teacher_values("token", tree(0), tree(1)) == ()
    assert kept_teacher_values("structural", softmax(0), softmax(1)) == ()
