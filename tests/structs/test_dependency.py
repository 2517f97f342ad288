"""DependencyCRF (all four projective x single_root spaces) against brute force.

The brute force enumerates every head vector and keeps the well-formed trees
of the configured space (see tests/structs/brute.py).
"""

import itertools
import math

import pytest
import torch

from spacy_skd.structs import DependencyCRF
from tests.structs import brute
from tests.structs.brute import F64, assert_close

# (N, lengths)
CASES = [
    (4, (4, 1, 3)),
    (3, (3, 2)),
    (1, (1,)),
    (5, (5, 2)),
]
CONFIGS = [(False, True), (False, False), (True, True), (True, False)]
SEEDS = (0, 1, 2)


def _scale(seed):
    return 50.0 if seed % 2 else 3.0


PARAMS = [
    pytest.param(c, proj, sr, s, _scale(s), id=f"case{ci}-proj{int(proj)}-single{int(sr)}-seed{s}")
    for (ci, c), (proj, sr), s in itertools.product(enumerate(CASES), CONFIGS, SEEDS)
]
CONFIG_IDS = [f"proj{int(p)}-single{int(s)}" for p, s in CONFIGS]


def make_scores(case, seed, scale=3.0, dtype=F64, device="cpu"):
    """Random scores everywhere, including the ignored diagonal / column 0 / padding."""
    N, lengths = case
    g = torch.Generator().manual_seed(seed)
    arc = brute.rand_scores(g, len(lengths), N + 1, N + 1, scale=scale, dtype=dtype, device=device)
    return arc, brute.as_lengths(lengths, device)


def enumerate_(arc, lengths, proj, sr):
    return brute.tree_enumerations(arc.to(F64), lengths, proj, sr)


@pytest.mark.parametrize("case,proj,sr,seed,scale", PARAMS)
def test_log_partition(case, proj, sr, seed, scale):
    arc, lengths = make_scores(case, seed, scale)
    dist = DependencyCRF(arc, lengths, projective=proj, single_root=sr)
    enums = enumerate_(arc, lengths, proj, sr)
    assert dist.log_partition.shape == (len(case[1]),)
    assert_close(dist.log_partition, brute.stack_stat(enums, "log_partition"), msg="log_partition")


@pytest.mark.parametrize("case,proj,sr,seed,scale", PARAMS)
def test_marginals(case, proj, sr, seed, scale):
    arc, lengths = make_scores(case, seed, scale)
    dist = DependencyCRF(arc, lengths, projective=proj, single_root=sr)
    enums = enumerate_(arc, lengths, proj, sr)
    assert_close(dist.marginals, brute.arc_marginals(enums, case[0]), msg="marginals")


@pytest.mark.parametrize("case,proj,sr,seed,scale", PARAMS)
def test_argmax(case, proj, sr, seed, scale):
    arc, lengths = make_scores(case, seed, scale)
    N, lens = case
    dist = DependencyCRF(arc, lengths, projective=proj, single_root=sr)
    enums = enumerate_(arc, lengths, proj, sr)
    am = dist.argmax
    assert am.shape == (len(lens), N + 1) and am.dtype == torch.long
    for b, e in enumerate(enums):
        n = lens[b]
        err = brute.check_tree(am[b].tolist(), n, proj, sr)
        assert err is None, f"batch {b}: {err}"
        k = e.index_of(am[b, 1 : n + 1])
        assert k >= 0
        assert abs(float(e.scores[k]) - float(e.max_score)) < 1e-6, (
            f"argmax {am[b].tolist()} scores {float(e.scores[k])}; "
            f"best {e.best.tolist()} {float(e.max_score)}"
        )
    maxes = brute.stack_stat(enums, "max_score")
    assert_close(dist.score(am), maxes, msg="score(argmax)")
    assert_close(
        dist.log_prob(am), maxes - brute.stack_stat(enums, "log_partition"), msg="log_prob(argmax)"
    )


@pytest.mark.parametrize("fill", [-1, "random"])
@pytest.mark.parametrize("case,proj,sr,seed,scale", PARAMS)
def test_log_prob_and_score(case, proj, sr, seed, scale, fill):
    arc, lengths = make_scores(case, seed, scale)
    N = case[0]
    dist = DependencyCRF(arc, lengths, projective=proj, single_root=sr)
    enums = enumerate_(arc, lengths, proj, sr)
    g = torch.Generator().manual_seed(seed + 1000)
    for _ in range(3):
        chosen = [int(torch.randint(0, e.size, (1,), generator=g)) for e in enums]
        heads = brute.pad_heads(enums, chosen, N, fill=fill, gen=g)
        exp_s = torch.stack([e.scores[k] for e, k in zip(enums, chosen)])
        exp_lp = torch.stack([e.log_probs[k] for e, k in zip(enums, chosen)])
        assert_close(dist.score(heads), exp_s, msg=f"score({heads.tolist()})")
        assert_close(dist.log_prob(heads), exp_lp, msg=f"log_prob({heads.tolist()})")


@pytest.mark.parametrize("case,proj,sr,seed,scale", PARAMS)
def test_entropy_cross_entropy_kl(case, proj, sr, seed, scale):
    a1, lengths = make_scores(case, seed, scale)
    a2, _ = make_scores(case, seed + 100, scale)
    p = DependencyCRF(a1, lengths, projective=proj, single_root=sr)
    q = DependencyCRF(a2, lengths, projective=proj, single_root=sr)
    ep, eq = enumerate_(a1, lengths, proj, sr), enumerate_(a2, lengths, proj, sr)
    assert_close(p.entropy, brute.stack_stat(ep, "entropy"), msg="entropy")
    assert_close(p.cross_entropy(q), brute.stack_pair(ep, eq, "cross_entropy"), msg="cross_entropy")
    assert_close(p.kl(q), brute.stack_pair(ep, eq, "kl"), msg="kl")
    assert_close(q.kl(p), brute.stack_pair(eq, ep, "kl"), msg="kl reversed")


@pytest.mark.parametrize("proj,sr", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("seed", SEEDS)
def test_ignored_entries_do_not_affect_outputs(proj, sr, seed):
    case = (4, (4, 1, 3, 2))
    arc, lengths = make_scores(case, seed)
    g = torch.Generator().manual_seed(seed + 7)
    clean = brute.garbage_in_ignored_arcs(arc, lengths, g, value=0.0)  # ignored entries := 0
    dirty = brute.garbage_in_ignored_arcs(arc, lengths, g, value=1e3)
    d0 = DependencyCRF(clean, lengths, projective=proj, single_root=sr)
    d1 = DependencyCRF(dirty, lengths, projective=proj, single_root=sr)
    for name in ("log_partition", "marginals", "entropy"):
        assert_close(getattr(d1, name), getattr(d0, name), atol=1e-9, msg=name)
    assert torch.equal(d0.argmax, d1.argmax)
    assert_close(d1.log_prob(d0.argmax), d0.log_prob(d0.argmax), atol=1e-9, msg="log_prob")
    assert_close(d1.score(d0.argmax), d0.score(d0.argmax), atol=1e-9, msg="score")
    enums = enumerate_(clean, lengths, proj, sr)
    assert_close(d1.marginals, brute.arc_marginals(enums, 4), msg="marginals vs brute")
    m = d1.marginals
    assert (m[:, :, 0] == 0).all() and (torch.diagonal(m, dim1=1, dim2=2) == 0).all()
    for b, n in enumerate(case[1]):
        assert (m[b, n + 1 :] == 0).all() and (m[b, :, n + 1 :] == 0).all()


@pytest.mark.parametrize("proj,sr", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_all_zero_scores_count_trees(proj, sr, n):
    N = 4
    arc = torch.zeros(1, N + 1, N + 1, dtype=F64)
    lengths = torch.tensor([n])
    dist = DependencyCRF(arc, lengths, projective=proj, single_root=sr)
    count = brute.catalan_like_counts(n, proj, sr)
    assert_close(dist.log_partition, torch.tensor([math.log(count)], dtype=F64), msg="log #trees")
    assert_close(dist.entropy, torch.tensor([math.log(count)], dtype=F64), msg="entropy uniform")
    enums = enumerate_(arc, lengths, proj, sr)
    assert_close(
        dist.marginals, brute.arc_marginals(enums, N), msg="marginals = arc counts / #trees"
    )


@pytest.mark.parametrize("proj,sr", CONFIGS, ids=CONFIG_IDS)
def test_length_one(proj, sr):
    g = torch.Generator().manual_seed(3)
    arc = brute.rand_scores(g, 2, 4, 4)
    dist = DependencyCRF(arc, torch.tensor([1, 1]), projective=proj, single_root=sr)
    assert_close(dist.log_partition, arc[:, 0, 1], msg="log_partition")
    exp = torch.zeros(2, 4, 4, dtype=F64)
    exp[:, 0, 1] = 1.0
    assert_close(dist.marginals, exp, msg="marginals")
    assert dist.argmax.tolist() == [[-1, 0, -1, -1]] * 2
    assert_close(dist.entropy, torch.zeros(2, dtype=F64), msg="entropy")


@pytest.mark.parametrize("proj,sr", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("seed", (0, 1))
def test_float32_large_scores(proj, sr, seed):
    case = (4, (4, 1, 3))
    arc, lengths = make_scores(case, seed, 100.0, dtype=torch.float32)
    dist = DependencyCRF(arc, lengths, projective=proj, single_root=sr)
    enums = enumerate_(arc, lengths, proj, sr)
    lz = dist.log_partition
    assert torch.isfinite(lz).all() and torch.isfinite(dist.marginals).all()
    assert torch.isfinite(dist.entropy).all()
    assert_close(
        lz, brute.stack_stat(enums, "log_partition"), atol=1e-3, rtol=1e-3, msg="log_partition"
    )
    assert_close(dist.marginals, brute.arc_marginals(enums, 4), atol=1e-3, rtol=0, msg="marginals")
    for b, e in enumerate(enums):
        n = case[1][b]
        assert brute.check_tree(dist.argmax[b].tolist(), n, proj, sr) is None
        k = e.index_of(dist.argmax[b, 1 : n + 1])
        assert float(e.scores[k]) >= float(e.max_score) - 1e-3 * abs(float(e.max_score))


@pytest.mark.parametrize("proj,sr", CONFIGS, ids=CONFIG_IDS)
@pytest.mark.parametrize("seed", (0, 1))
def test_gradient_of_log_partition_is_marginals(proj, sr, seed):
    case = (4, (4, 1, 3))
    arc, lengths = make_scores(case, seed, 3.0 if seed == 0 else 50.0)
    arc.requires_grad_(True)
    dist = DependencyCRF(arc, lengths, projective=proj, single_root=sr)
    dist.log_partition.sum().backward()
    enums = enumerate_(arc.detach(), lengths, proj, sr)
    assert_close(arc.grad, brute.arc_marginals(enums, 4), msg="d logZ / d arc_scores")


@pytest.mark.parametrize("proj,sr", CONFIGS, ids=CONFIG_IDS)
def test_marginals_are_differentiable(proj, sr):
    case = (4, (4, 1, 3))
    arc, lengths = make_scores(case, 5)
    arc.requires_grad_(True)
    g = torch.Generator().manual_seed(17)
    w = brute.rand_scores(g, 3, 5, 5, scale=1.0)
    dist = DependencyCRF(arc, lengths, projective=proj, single_root=sr)
    (got,) = torch.autograd.grad((dist.marginals * w).sum(), [arc])
    enums = enumerate_(arc, lengths, proj, sr)
    (exp,) = torch.autograd.grad((brute.arc_marginals(enums, 4) * w).sum(), [arc])
    assert_close(got, exp, msg="d(weighted marginals)/d arc_scores")


def test_argmax_respects_space_when_unconstrained_best_differs():
    """Scores that make the unconstrained best a crossing / multi-root tree."""
    N = 4
    arc = torch.full((1, N + 1, N + 1), -5.0, dtype=F64)
    # unconstrained best: heads 1<-0, 2<-4, 3<-1, 4<-0, i.e. two root children and
    # arcs (1,3) x (4,2) crossing; every other configured space must pick something else.
    for h, d in [(0, 1), (4, 2), (1, 3), (0, 4)]:
        arc[0, h, d] = 5.0
    lengths = torch.tensor([N])
    for proj, sr in CONFIGS:
        dist = DependencyCRF(arc, lengths, projective=proj, single_root=sr)
        e = enumerate_(arc, lengths, proj, sr)[0]
        am = dist.argmax[0]
        assert brute.check_tree(am.tolist(), N, proj, sr) is None, (proj, sr, am.tolist())
        k = e.index_of(am[1:])
        assert abs(float(e.scores[k]) - float(e.max_score)) < 1e-6, (
            proj,
            sr,
            am.tolist(),
            e.best.tolist(),
        )


@pytest.mark.parametrize("sr", [True, False])
def test_weak_root_arcs_strong_word_arcs(sr):
    """Strong word<->word arcs and weak root arcs (|scores| <= 50, float64).

    In the multi-root Laplacian, det = w01 w02 + w01 w12 + w21 w02 while the
    products of the diagonal/off-diagonal entries are ~e^76: naive
    determinants cancel catastrophically.  log Z must still be ~12.
    """
    arc = torch.zeros(1, 3, 3, dtype=F64)
    arc[0, 0, 1], arc[0, 0, 2], arc[0, 1, 2], arc[0, 2, 1] = -30.0, -42.0, 42.0, 34.0
    lengths = torch.tensor([2])
    dist = DependencyCRF(arc, lengths, projective=False, single_root=sr)
    enums = enumerate_(arc, lengths, False, sr)
    assert_close(dist.log_partition, brute.stack_stat(enums, "log_partition"), msg="log_partition")
    assert_close(dist.marginals, brute.arc_marginals(enums, 2), msg="marginals")
    assert_close(dist.entropy, brute.stack_stat(enums, "entropy"), msg="entropy")


@pytest.mark.parametrize("proj,sr", CONFIGS, ids=CONFIG_IDS)
def test_many_sentences_large_scores(proj, sr):
    """A batch of 48 sentences (n = 1..4) with |scores| <= 50: float64 exactness."""
    g = torch.Generator().manual_seed(12345)
    lens = [1 + (i % 4) for i in range(48)]
    arc = brute.rand_scores(g, len(lens), 5, 5, scale=50.0)
    lengths = brute.as_lengths(lens)
    dist = DependencyCRF(arc, lengths, projective=proj, single_root=sr)
    enums = enumerate_(arc, lengths, proj, sr)
    assert_close(dist.log_partition, brute.stack_stat(enums, "log_partition"), msg="log_partition")
    assert_close(dist.marginals, brute.arc_marginals(enums, 4), msg="marginals")
    assert_close(dist.entropy, brute.stack_stat(enums, "entropy"), msg="entropy")
    assert_close(dist.score(dist.argmax), brute.stack_stat(enums, "max_score"), msg="score(argmax)")
