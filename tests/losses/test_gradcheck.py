"""torch.autograd.gradcheck of every loss with respect to the student's scores."""

import functools

import pytest
import torch

from spacy_skd.losses import (
    HiddenStateLoss,
    attention_kd_loss,
    hidden_state_loss,
    local_kd_loss,
    local_scores_loss,
    structural_kd_loss,
    token_kd_loss,
)
from spacy_skd.structs import (
    DependencyCRF,
    HeadSelection,
    LinearChainCRF,
    SemiMarkovCRF,
    TokenSoftmax,
)

F64 = torch.float64
LENGTHS = torch.tensor([3, 1, 2])


def rand(seed, *shape, grad=False):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=F64).requires_grad_(grad)


def crf_from(emissions, transitions):
    return LinearChainCRF(emissions, transitions, LENGTHS)


TEACHERS = {
    "crf": lambda: crf_from(rand(1, 3, 3, 4), rand(2, 4, 4)),
    "softmax": lambda: TokenSoftmax(rand(3, 3, 3, 4), LENGTHS),
    "span": lambda: SemiMarkovCRF(rand(4, 3, 3, 2, 1), LENGTHS, rand(5, 3, 3), "BIO"),
}


@pytest.mark.parametrize("teacher", list(TEACHERS))
def test_structural_sequence_to_crf(teacher):
    target = TEACHERS[teacher]()
    n_labels = 3 if teacher == "span" else 4
    emissions, transitions = (
        rand(6, 3, 3, n_labels, grad=True),
        rand(7, n_labels, n_labels, grad=True),
    )
    assert torch.autograd.gradcheck(
        lambda e, t: structural_kd_loss(crf_from(e, t), target, temperature=2.0),
        (emissions, transitions),
    )


@pytest.mark.parametrize("teacher", list(TEACHERS))
def test_structural_sequence_to_softmax(teacher):
    target = TEACHERS[teacher]()
    n_labels = 3 if teacher == "span" else 4
    logits = rand(8, 3, 3, n_labels, grad=True)
    assert torch.autograd.gradcheck(
        lambda x: structural_kd_loss(TokenSoftmax(x, LENGTHS), target), (logits,)
    )


STUDENT_TREES = {
    "nonprojective": lambda a: DependencyCRF(a, LENGTHS),
    "nonprojective-multiroot": lambda a: DependencyCRF(a, LENGTHS, single_root=False),
    "projective": lambda a: DependencyCRF(a, LENGTHS, projective=True),
    "head-selection": lambda a: HeadSelection(a, LENGTHS),
}


@pytest.mark.parametrize("student", list(STUDENT_TREES))
@pytest.mark.parametrize(
    "loss",
    [
        structural_kd_loss,
        local_kd_loss,
        local_scores_loss,
        functools.partial(local_scores_loss, scale="spread"),
        functools.partial(local_scores_loss, scale="raw"),
    ],
)
def test_tree_losses(student, loss):
    teacher = DependencyCRF(rand(9, 3, 4, 4), LENGTHS)
    arcs = rand(10, 3, 4, 4, grad=True)
    build = STUDENT_TREES[student]
    assert torch.autograd.gradcheck(lambda a: loss(build(a), teacher, 1.5), (arcs,))


@pytest.mark.parametrize(
    "loss",
    [
        local_kd_loss,
        functools.partial(local_kd_loss, normalise="per_position"),
        local_scores_loss,
        functools.partial(local_scores_loss, scale="spread"),
        functools.partial(local_scores_loss, scale="raw"),
    ],
)
def test_local_sequence_losses(loss):
    teacher = TEACHERS["crf"]()
    emissions, transitions = rand(11, 3, 3, 4, grad=True), rand(12, 4, 4, grad=True)
    assert torch.autograd.gradcheck(
        lambda e, t: loss(crf_from(e, t), teacher, 2.0), (emissions, transitions)
    )


def test_token_loss():
    student = rand(13, 3, 3, 4, grad=True)
    teacher = rand(14, 3, 3, 4)
    assert torch.autograd.gradcheck(lambda s: token_kd_loss(s, teacher, LENGTHS, 2.0), (student,))


@pytest.mark.parametrize("kind", ["mse", "cosine"])
def test_hidden_state_losses(kind):
    student = rand(13, 3, 3, 4, grad=True)
    teacher = rand(14, 3, 3, 4)
    assert torch.autograd.gradcheck(
        lambda s: hidden_state_loss(s, teacher, LENGTHS, kind), (student,)
    )
    projected = HiddenStateLoss(4, 5, kind).double()
    wide_teacher = rand(15, 3, 3, 5)
    assert torch.autograd.gradcheck(lambda s: projected(s, wide_teacher, LENGTHS), (student,))


def test_attention_loss():
    attention = rand(16, 3, 2, 3, 3, grad=True)
    teacher_attention = rand(17, 3, 2, 3, 3).softmax(-1)
    assert torch.autograd.gradcheck(
        lambda a: attention_kd_loss(a.softmax(-1), teacher_attention, LENGTHS), (attention,)
    )
