"""Self-checks of the brute-force oracles (independent of the implementation)."""

import math

import pytest
import torch

from tests.structs import brute
from tests.structs.brute import F64


@pytest.mark.parametrize("n,L", [(1, 1), (1, 3), (3, 2), (4, 3)])
def test_tag_sequence_count(n, L):
    seqs = brute._tag_sequences(n, L)
    assert seqs.shape == (L**n, n)
    assert len({tuple(r) for r in seqs.tolist()}) == L**n


def test_chain_score_by_hand():
    em = torch.tensor([[1.0, 2.0], [3.0, 5.0], [7.0, 11.0]], dtype=F64)
    tr = torch.tensor([[0.1, 0.2], [0.3, 0.4]], dtype=F64)
    st = torch.tensor([10.0, 20.0], dtype=F64)
    en = torch.tensor([100.0, 200.0], dtype=F64)
    tags = torch.tensor([[1, 0, 1]])
    # start[1] + e0[1] + e1[0] + e2[1] + tr[1,0] + tr[0,1] + end[1]
    expected = 20 + 2 + 3 + 11 + 0.3 + 0.2 + 200
    got = brute.chain_score(em, tr, tags, st, en)
    assert abs(float(got) - expected) < 1e-12


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("projective", [False, True])
@pytest.mark.parametrize("single_root", [False, True])
def test_tree_counts_closed_form(n, projective, single_root):
    hv = brute._head_vectors(n, (projective, single_root))
    assert hv.shape[0] == brute.catalan_like_counts(n, projective, single_root)
    assert brute._head_vectors(n, "all").shape[0] == n**n


def test_known_small_tree_sets():
    # n = 2, projective, multi-root: 0->1 0->2 | 0->1 1->2 | 0->2 2->1
    got = {tuple(r) for r in brute._head_vectors(2, (True, False)).tolist()}
    assert got == {(0, 0), (0, 1), (2, 0)}
    got = {tuple(r) for r in brute._head_vectors(2, (False, True)).tolist()}
    assert got == {(0, 1), (2, 0)}
    # crossing: arcs (3,1) and (0,2) cross
    assert not brute.is_projective([-1, 3, 0, 2])
    assert brute.is_tree([-1, 3, 0, 2])
    assert brute.is_projective([-1, 2, 0, 2])
    assert not brute.is_tree([-1, 2, 1, 0])  # 1 <-> 2 cycle
    # arcs sharing an endpoint never cross
    assert brute.is_projective([-1, 0, 0, 0])


@pytest.mark.parametrize("n,K,E", [(1, 1, 1), (3, 2, 2), (4, 4, 1), (5, 3, 2), (4, 2, 3)])
@pytest.mark.parametrize("scheme", brute.SCHEMES)
def test_segmentation_enumeration(n, K, E, scheme):
    tags, span_ind, out_ind = brute._segmentations(n, K, E, scheme)
    S = tags.shape[0]
    assert S == brute.count_segmentations(n, K, E)
    # bijection segmentation <-> tag sequence
    assert len({tuple(r) for r in tags.tolist()}) == S
    T = brute.num_tags(scheme, E)
    for s in range(S):
        segs = brute.decode_tags(tags[s].tolist(), scheme, E)
        assert segs is not None
        # each token covered exactly once
        cover = out_ind[s].long().clone()
        for seg in segs:
            if seg[0] != "O":
                i, w, e = seg
                assert w <= K
                assert bool(span_ind[s, i, w - 1, e])
                cover[i : i + w] += 1
        assert cover.tolist() == [1] * n
        assert int(span_ind[s].sum()) == sum(1 for g in segs if g[0] != "O")
        assert all(0 <= t < T for t in tags[s].tolist())


def test_decode_rejects_invalid():
    # BIO: I without B, I of another label
    assert brute.decode_tags([2], "BIO", 1) is None
    assert brute.decode_tags([1, 4], "BIO", 2) is None
    assert brute.decode_tags([1, 1, 2], "BIO", 1) == [(0, 1, 0), (1, 2, 0)]
    # BILUO: B without L, L alone, U
    assert brute.decode_tags([1, 2], "BILUO", 1) is None
    assert brute.decode_tags([3], "BILUO", 1) is None
    assert brute.decode_tags([4, 0, 1, 2, 3], "BILUO", 1) == [(0, 1, 0), ("O", 1), (2, 3, 0)]
    assert brute.decode_tags([9], "BIO", 1) is None


def test_enumerated_stats_uniform():
    e = brute.Enumerated(torch.arange(6).unsqueeze(1), torch.zeros(6, dtype=F64))
    assert abs(float(e.log_partition) - math.log(6)) < 1e-12
    assert abs(float(e.entropy) - math.log(6)) < 1e-12
    assert abs(float(e.kl(e))) < 1e-12


def test_arc_marginal_layout():
    arc = torch.zeros(1, 4, 4, dtype=F64)
    enums = brute.tree_enumerations(arc, torch.tensor([2]), projective=False, single_root=True)
    m = brute.arc_marginals(enums, 3)
    assert m.shape == (1, 4, 4)
    # two trees: 0->1->2 and 0->2->1
    exp = torch.zeros(4, 4, dtype=F64)
    exp[0, 1] = exp[1, 2] = exp[0, 2] = exp[2, 1] = 0.5
    torch.testing.assert_close(m[0], exp)
