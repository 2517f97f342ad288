"""The components' losses compute the student's log Z once, for its gold and its
KD terms: the shared value gives the same loss and gradients as computing each
term on its own."""

import numpy
import pytest
import torch

from spacy_skd.losses import structural_kd_loss
from spacy_skd.pipeline.parser_loss import cap_arcs, gold_arc_loss, parser_loss
from spacy_skd.pipeline.sequence_loss import gold_loss, sequence_loss
from spacy_skd.structs import DependencyCRF, LinearChainCRF
from spacy_skd.targets import SequenceTargets

D = torch.float64
pytestmark = pytest.mark.filterwarnings("ignore")


def grads(loss, tensors):
    return torch.autograd.grad(loss, tensors)


@pytest.mark.parametrize("method", ["structural", "hard"])
def test_sequence_loss_equals_its_terms_computed_apart(method):
    torch.manual_seed(0)
    lengths = torch.tensor([5, 3, 4])
    scores = torch.randn(3, 5, 4, dtype=D, requires_grad=True)
    crf = tuple(torch.randn(*shape, dtype=D, requires_grad=True) for shape in ((4, 4), (4,), (4,)))
    gold = torch.tensor([[0, 1, -1, 2, 3], [1, 1, 0, -1, -1], [-1, -1, -1, -1, -1]])
    rng = numpy.random.default_rng(0)
    targets = [
        SequenceTargets(
            rng.normal(size=(int(n), 4)),
            method=method,
            weight=0.3,
            transitions=rng.normal(size=(4, 4)),
            start=rng.normal(size=4),
            end=rng.normal(size=4),
        )
        if i != 1
        else None
        for i, n in enumerate(lengths)
    ]
    shared = sequence_loss(scores, lengths, crf, gold, targets)

    rows = torch.tensor([0, 2])
    student = LinearChainCRF(scores[rows], crf[0], lengths[rows], crf[1], crf[2])
    emissions = torch.zeros(2, 5, 4, dtype=D)
    for row, i in enumerate(rows):
        emissions[row, : lengths[i]] = torch.as_tensor(targets[i].scores)

    def stack(name):
        return torch.stack([torch.as_tensor(getattr(targets[i], name)) for i in rows])

    teacher = LinearChainCRF(
        emissions, stack("transitions"), lengths[rows], stack("start"), stack("end")
    )
    if method == "structural":
        kd = structural_kd_loss(student, teacher) * lengths[rows].sum()
    else:
        kd = -student.log_prob(teacher.argmax.clamp(min=0)).sum()
    alphas = torch.tensor([0.3, 0.0, 0.3], dtype=D)
    apart = ((1 - alphas) * gold_loss(scores, lengths, crf, gold)).sum() + 0.3 * kd

    torch.testing.assert_close(shared, apart)
    for a, b in zip(grads(shared, [scores, *crf]), grads(apart, [scores, *crf])):
        torch.testing.assert_close(a, b)


def test_parser_loss_equals_its_terms_computed_apart():
    torch.manual_seed(1)
    lengths = torch.tensor([3, 2])
    arcs = torch.randn(2, 4, 4, dtype=D, requires_grad=True)
    heads = torch.tensor([[-1, 2, 0, 2], [-1, 0, 1, -1]])
    no_labels = torch.full((2, 4), -1)
    label_scores = torch.zeros(2, 4, 1, dtype=D)
    teacher_arcs = torch.randn(4, 4, dtype=D)
    target = {
        "arcs": teacher_arcs.numpy(),
        "labels": numpy.zeros((3, 1)),
        "heads": numpy.zeros(3, dtype=int),
        "objective": "crf",
        "method": "structural",
        "weight": 0.4,
        "temperature": 1.0,
    }
    shared = parser_loss(
        arcs, lengths, "crf", heads, no_labels, label_scores, [target, None], label_scores
    )

    capped = cap_arcs(arcs)
    student = DependencyCRF(capped[:1], lengths[:1])
    teacher = DependencyCRF(cap_arcs(teacher_arcs)[None], lengths[:1])
    kd = structural_kd_loss(student, teacher) * 3
    alphas = torch.tensor([0.4, 0.0], dtype=D)
    apart = ((1 - alphas) * gold_arc_loss(capped, lengths, "crf", heads)).sum() + 0.4 * kd

    torch.testing.assert_close(shared, apart)
    torch.testing.assert_close(grads(shared, [arcs])[0], grads(apart, [arcs])[0])
