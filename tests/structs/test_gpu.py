"""One brute-force comparison per distribution on CUDA (skipped without a GPU)."""

import pytest
import torch

from spacy_skd.structs import (
    DependencyCRF,
    HeadSelection,
    LinearChainCRF,
    SemiMarkovCRF,
    TokenSoftmax,
)
from tests.structs import brute
from tests.structs.brute import assert_close

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
DEV = "cuda"


def _rand(g, *shape, scale=3.0):
    return brute.rand_scores(g, *shape, scale=scale, device=DEV)


def _lens(xs):
    return brute.as_lengths(xs, DEV)


def _on_device(*xs):
    for x in xs:
        assert x.device.type == "cuda", f"result on {x.device}"


def test_linear_chain_cuda():
    g = torch.Generator().manual_seed(0)
    lengths = _lens((4, 1, 3))
    em, tr, st, en = _rand(g, 3, 4, 3), _rand(g, 3, 3), _rand(g, 3), _rand(g, 3)
    em.requires_grad_(True)
    dist = LinearChainCRF(em, tr, lengths, start=st, end=en)
    enums = brute.chain_enumerations(em.detach(), tr, lengths, st, en)
    _on_device(dist.log_partition, dist.marginals, dist.pair_marginals, dist.argmax, dist.entropy)
    assert_close(dist.log_partition, brute.stack_stat(enums, "log_partition"))
    assert_close(dist.marginals, brute.chain_marginals(enums, 4, 3))
    assert_close(dist.pair_marginals, brute.chain_pair_marginals(enums, 4, 3))
    assert_close(dist.entropy, brute.stack_stat(enums, "entropy"))
    assert_close(dist.score(dist.argmax), brute.stack_stat(enums, "max_score"))
    dist.log_partition.sum().backward()
    assert_close(em.grad, brute.chain_marginals(enums, 4, 3))


def test_token_softmax_cuda():
    g = torch.Generator().manual_seed(1)
    x, lengths = _rand(g, 2, 3, 3), _lens((3, 1))
    dist, enums = TokenSoftmax(x, lengths), brute.softmax_enumerations(x, lengths)
    assert_close(dist.log_partition, brute.stack_stat(enums, "log_partition"))
    assert_close(dist.marginals, brute.chain_marginals(enums, 3, 3))
    assert_close(dist.entropy, brute.stack_stat(enums, "entropy"))


@pytest.mark.parametrize("proj,sr", [(False, True), (False, False), (True, True), (True, False)])
def test_dependency_cuda(proj, sr):
    g = torch.Generator().manual_seed(2)
    arc, lengths = _rand(g, 3, 5, 5), _lens((4, 1, 3))
    dist = DependencyCRF(arc, lengths, projective=proj, single_root=sr)
    enums = brute.tree_enumerations(arc, lengths, proj, sr)
    _on_device(dist.log_partition, dist.marginals, dist.argmax)
    assert_close(dist.log_partition, brute.stack_stat(enums, "log_partition"))
    assert_close(dist.marginals, brute.arc_marginals(enums, 4))
    assert_close(dist.entropy, brute.stack_stat(enums, "entropy"))
    assert_close(dist.score(dist.argmax), brute.stack_stat(enums, "max_score"))


def test_head_selection_cuda():
    g = torch.Generator().manual_seed(3)
    arc, lengths = _rand(g, 2, 5, 5), _lens((4, 2))
    dist, enums = HeadSelection(arc, lengths), brute.head_selection_enumerations(arc, lengths)
    assert_close(dist.log_partition, brute.stack_stat(enums, "log_partition"))
    assert_close(dist.marginals, brute.arc_marginals(enums, 4))
    trees = brute.tree_enumerations(arc, lengths, False, True)
    assert_close(dist.score(dist.argmax), brute.stack_stat(trees, "max_score"))


@pytest.mark.parametrize("scheme", brute.SCHEMES)
def test_semimarkov_cuda(scheme):
    g = torch.Generator().manual_seed(4)
    span, out, lengths = _rand(g, 2, 4, 2, 2), _rand(g, 2, 4), _lens((4, 2))
    dist = SemiMarkovCRF(span, lengths, outside=out, scheme=scheme)
    enums = brute.semimarkov_enumerations(span, lengths, out, scheme)
    assert_close(dist.log_partition, brute.stack_stat(enums, "log_partition"))
    assert_close(dist.span_marginals, brute.span_marginals(enums, 4))
    T = brute.num_tags(scheme, 2)
    exp = brute.tag_marginals(enums, 4, T)
    assert_close(dist.marginals[0], exp[0])
    assert_close(dist.marginals[1, :2], exp[1, :2])
    assert_close(dist.score(dist.argmax), brute.stack_stat(enums, "max_score"))
