"""A CRF teacher's marginals and transition counts are computed once
per doc and kept in its targets' memo: a later step on the same doc (the next
epoch, in another batch) gives the same loss and gradients without running the
teacher's forward-backward again."""

import numpy
import pytest
import torch

from spacy_skd.pipeline.parser_loss import parser_loss
from spacy_skd.pipeline.sequence_loss import sequence_loss
from spacy_skd.structs import LinearChainCRF
from spacy_skd.targets import SequenceTargets, in_label_order

D = torch.float64
LABELS = ("A", "B", "C", "D")
pytestmark = pytest.mark.filterwarnings("ignore")


def make_targets(lengths, method, temperature, seed=0):
    rng = numpy.random.default_rng(seed)
    return [
        SequenceTargets(
            rng.normal(size=(n, 4)) * 3,
            method=method,
            weight=0.4,
            temperature=temperature,
            transitions=rng.normal(size=(4, 4)),
            start=rng.normal(size=4),
            end=rng.normal(size=4),
        )
        for n in lengths
    ]


def loss_and_grads(targets, order, crf_student):
    """The loss of the docs of `targets` taken in `order` (a batch of those docs),
    and its gradients on the student's scores of each doc."""
    torch.manual_seed(0)
    lengths = torch.tensor([targets[i].scores.shape[0] for i in order])
    scores = torch.randn(len(order), int(lengths.max()), 4, dtype=D, requires_grad=True)
    crf = None
    if crf_student:
        crf = tuple(torch.randn(*s, dtype=D, requires_grad=True) for s in ((4, 4), (4,), (4,)))
    gold = torch.full(scores.shape[:2], -1)
    loss = sequence_loss(scores, lengths, crf, gold, [targets[i] for i in order])
    (grad,) = torch.autograd.grad(loss, [scores])
    return loss, {i: grad[row, : lengths[row]] for row, i in enumerate(order)}


def count_forward_backward(monkeypatch):
    calls = []
    original = LinearChainCRF._betas.func

    def counted(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(LinearChainCRF, "_betas", property(counted))
    return calls


@pytest.mark.parametrize("crf_student", [True, False])
@pytest.mark.parametrize("method", ["structural", "token"])
@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_memo_gives_the_same_loss_in_another_batch(method, temperature, crf_student):
    lengths = [5, 2, 4]
    fresh = make_targets(lengths, method, temperature)
    kept = make_targets(lengths, method, temperature)
    loss_and_grads(kept, [0, 1, 2], crf_student)
    assert all(target.memo for target in kept)
    # Docs 2 and 1 in a batch of their own: padded to 4 tokens, not 5.
    with_memo, grads_memo = loss_and_grads(kept, [2, 1], crf_student)
    without, grads_fresh = loss_and_grads(fresh, [2, 1], crf_student)
    torch.testing.assert_close(with_memo, without)
    for i in grads_fresh:
        torch.testing.assert_close(grads_memo[i], grads_fresh[i])


def test_second_step_runs_no_teacher_forward_backward(monkeypatch):
    targets = make_targets([5, 3], "structural", 1.0)
    loss_and_grads(targets, [0, 1], crf_student=True)
    calls = count_forward_backward(monkeypatch)
    loss_and_grads(targets, [1, 0], crf_student=True)
    assert calls == []
    loss_and_grads(make_targets([5, 3], "structural", 1.0), [1, 0], crf_student=True)
    assert calls != []


def test_reordered_labels_keep_their_own_memo():
    [original] = make_targets([3], "structural", 1.0)
    original.labels = LABELS
    reordered = in_label_order(original, ("D", "C", "B", "A"))
    again = in_label_order(original, ("D", "C", "B", "A"))
    assert reordered.memo is again.memo
    assert reordered.memo is not original.memo
    loss_and_grads([reordered], [0], crf_student=True)
    assert reordered.memo and not any(isinstance(key[0], float) for key in original.memo)


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_parser_memo_gives_the_same_loss_in_another_batch(temperature):
    """Tree-CRF teacher: its arc marginals are kept per sentence."""
    rng = numpy.random.default_rng(3)
    sizes = [4, 2, 3]

    def targets_of(memos):
        return [
            {
                "arcs": rng_arcs[k],
                "labels": numpy.zeros((n, 1)),
                "heads": numpy.zeros(n, dtype="int64"),
                "objective": "crf",
                "method": "structural",
                "weight": 0.5,
                "temperature": temperature,
                "memo": memos[k],
            }
            for k, n in enumerate(sizes)
        ]

    rng_arcs = [rng.normal(size=(n + 1, n + 1)) * 3 for n in sizes]

    def loss_of(targets, order):
        torch.manual_seed(0)
        lengths = torch.tensor([sizes[k] for k in order])
        n_nodes = int(lengths.max()) + 1
        arcs = torch.randn(len(order), n_nodes, n_nodes, dtype=D, requires_grad=True)
        missing = torch.full((len(order), n_nodes), -1)
        labels = torch.zeros(len(order), n_nodes, 1, dtype=D)
        chosen = [targets[k] for k in order]
        loss = parser_loss(arcs, lengths, "crf", missing, missing, labels, chosen, labels)
        return loss, torch.autograd.grad(loss, [arcs])[0]

    kept = targets_of([{} for _ in sizes])
    loss_of(kept, [0, 1, 2])
    assert all(target["memo"] for target in kept)
    with_memo, grad_memo = loss_of(kept, [2, 1])
    without, grad_fresh = loss_of(targets_of([{} for _ in sizes]), [2, 1])
    torch.testing.assert_close(with_memo, without)
    torch.testing.assert_close(grad_memo, grad_fresh)
