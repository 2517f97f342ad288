"""HeadSelection against brute force over all n^n head vectors.

Its argmax is the best single-root (non-projective) tree, checked against
enumeration of those trees.
"""

import itertools
import math

import pytest
import torch

from spacy_skd.structs import HeadSelection
from tests.structs import brute
from tests.structs.brute import F64, assert_close

CASES = [
    (4, (4, 1, 3)),
    (3, (3, 2)),
    (1, (1,)),
    (5, (5, 2)),
]
SEEDS = (0, 1, 2)
SCALES = (3.0, 50.0)
PARAMS = [
    pytest.param(c, s, sc, id=f"case{ci}-seed{s}-scale{sc:g}")
    for (ci, c), s, sc in itertools.product(enumerate(CASES), SEEDS, SCALES)
]


def make_scores(case, seed, scale=3.0, dtype=F64, device="cpu"):
    N, lengths = case
    g = torch.Generator().manual_seed(seed)
    arc = brute.rand_scores(g, len(lengths), N + 1, N + 1, scale=scale, dtype=dtype, device=device)
    return arc, brute.as_lengths(lengths, device)


def enumerate_(arc, lengths):
    return brute.head_selection_enumerations(arc.to(F64), lengths)


@pytest.mark.parametrize("case,seed,scale", PARAMS)
def test_log_partition_and_marginals(case, seed, scale):
    arc, lengths = make_scores(case, seed, scale)
    N, lens = case
    dist, enums = HeadSelection(arc, lengths), enumerate_(arc, lengths)
    assert_close(dist.log_partition, brute.stack_stat(enums, "log_partition"), msg="log_partition")
    assert_close(dist.marginals, brute.arc_marginals(enums, N), msg="marginals")
    # closed forms: sum_d logsumexp_h, column softmax
    closed = []
    for b, n in enumerate(lens):
        tot = arc.new_zeros(())
        for d in range(1, n + 1):
            hs = [h for h in range(n + 1) if h != d]
            tot = tot + torch.logsumexp(arc[b, hs, d], 0)
        closed.append(tot)
    assert_close(dist.log_partition, torch.stack(closed), msg="log_partition closed form")


@pytest.mark.parametrize("case,seed,scale", PARAMS)
def test_argmax_is_maximum_spanning_tree(case, seed, scale):
    arc, lengths = make_scores(case, seed, scale)
    N, lens = case
    dist = HeadSelection(arc, lengths)
    trees = brute.tree_enumerations(arc, lengths, projective=False, single_root=True)
    am = dist.argmax
    assert am.shape == (len(lens), N + 1) and am.dtype == torch.long
    for b, t in enumerate(trees):
        n = lens[b]
        err = brute.check_tree(am[b].tolist(), n, projective=False, single_root=True)
        assert err is None, f"batch {b}: {err}"
        got = float(brute.arc_score(arc[b], am[b, 1 : n + 1].unsqueeze(0)))
        assert abs(got - float(t.max_score)) < 1e-6, (
            f"argmax {am[b].tolist()} scores {got}; "
            f"best tree {t.best.tolist()} scores {float(t.max_score)}"
        )
    assert_close(dist.score(am), brute.stack_stat(trees, "max_score"), msg="score(argmax)")


@pytest.mark.parametrize("fill", [-1, "random"])
@pytest.mark.parametrize("case,seed,scale", PARAMS)
def test_log_prob_and_score_any_head_vector(case, seed, scale, fill):
    arc, lengths = make_scores(case, seed, scale)
    N = case[0]
    dist, enums = HeadSelection(arc, lengths), enumerate_(arc, lengths)
    g = torch.Generator().manual_seed(seed + 1000)
    for _ in range(3):
        chosen = [int(torch.randint(0, e.size, (1,), generator=g)) for e in enums]
        heads = brute.pad_heads(enums, chosen, N, fill=fill, gen=g)
        assert_close(
            dist.score(heads),
            torch.stack([e.scores[k] for e, k in zip(enums, chosen)]),
            msg="score",
        )
        assert_close(
            dist.log_prob(heads),
            torch.stack([e.log_probs[k] for e, k in zip(enums, chosen)]),
            msg="log_prob",
        )


def test_log_prob_of_cyclic_head_vector():
    arc, lengths = make_scores((3, (3,)), 9)
    dist = HeadSelection(arc, lengths)
    heads = torch.tensor([[-1, 2, 1, 1]])  # 1 <-> 2 cycle
    e = enumerate_(arc, lengths)[0]
    k = e.index_of(heads[0, 1:])
    assert_close(dist.log_prob(heads), e.log_probs[k].reshape(1), msg="log_prob(cycle)")


@pytest.mark.parametrize("case,seed,scale", PARAMS)
def test_entropy_cross_entropy_kl(case, seed, scale):
    a1, lengths = make_scores(case, seed, scale)
    a2, _ = make_scores(case, seed + 100, scale)
    p, q = HeadSelection(a1, lengths), HeadSelection(a2, lengths)
    ep, eq = enumerate_(a1, lengths), enumerate_(a2, lengths)
    assert_close(p.entropy, brute.stack_stat(ep, "entropy"), msg="entropy")
    assert_close(p.cross_entropy(q), brute.stack_pair(ep, eq, "cross_entropy"), msg="cross_entropy")
    assert_close(p.kl(q), brute.stack_pair(ep, eq, "kl"), msg="kl")
    assert_close(q.kl(p), brute.stack_pair(eq, ep, "kl"), msg="kl reversed")


@pytest.mark.parametrize("seed", SEEDS)
def test_ignored_entries_do_not_affect_outputs(seed):
    case = (4, (4, 1, 3, 2))
    arc, lengths = make_scores(case, seed)
    g = torch.Generator().manual_seed(seed + 7)
    clean = brute.garbage_in_ignored_arcs(arc, lengths, g, value=0.0)
    dirty = brute.garbage_in_ignored_arcs(arc, lengths, g, value=1e3)
    d0, d1 = HeadSelection(clean, lengths), HeadSelection(dirty, lengths)
    for name in ("log_partition", "marginals", "entropy"):
        assert_close(getattr(d1, name), getattr(d0, name), atol=1e-9, msg=name)
    assert torch.equal(d0.argmax, d1.argmax)
    assert_close(d1.log_prob(d0.argmax), d0.log_prob(d0.argmax), atol=1e-9, msg="log_prob")
    assert_close(
        d1.marginals, brute.arc_marginals(enumerate_(clean, lengths), 4), msg="marginals vs brute"
    )


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_all_zero_scores(n):
    dist = HeadSelection(torch.zeros(1, 5, 5, dtype=F64), torch.tensor([n]))
    assert_close(dist.log_partition, torch.tensor([n * math.log(n)], dtype=F64), msg="n log n")
    assert_close(dist.entropy, torch.tensor([n * math.log(n)], dtype=F64), msg="entropy")
    exp = torch.zeros(1, 5, 5, dtype=F64)
    for d in range(1, n + 1):
        for h in range(n + 1):
            if h != d:
                exp[0, h, d] = 1.0 / n
    assert_close(dist.marginals, exp, msg="marginals")
    assert brute.check_tree(dist.argmax[0].tolist(), n, False, True) is None


@pytest.mark.parametrize("seed", (0, 1))
def test_float32_large_scores(seed):
    case = (4, (4, 1, 3))
    arc, lengths = make_scores(case, seed, 100.0, dtype=torch.float32)
    dist, enums = HeadSelection(arc, lengths), enumerate_(arc, lengths)
    assert torch.isfinite(dist.log_partition).all() and torch.isfinite(dist.marginals).all()
    assert torch.isfinite(dist.entropy).all()
    assert_close(dist.log_partition, brute.stack_stat(enums, "log_partition"), atol=1e-3, rtol=1e-3)
    assert_close(dist.marginals, brute.arc_marginals(enums, 4), atol=1e-3, rtol=0)
    for b, n in enumerate(case[1]):
        assert brute.check_tree(dist.argmax[b].tolist(), n, False, True) is None


@pytest.mark.parametrize("seed", (0, 1))
def test_gradients(seed):
    case = (4, (4, 1, 3))
    arc, lengths = make_scores(case, seed, 3.0 if seed == 0 else 50.0)
    arc.requires_grad_(True)
    HeadSelection(arc, lengths).log_partition.sum().backward()
    assert_close(
        arc.grad, brute.arc_marginals(enumerate_(arc.detach(), lengths), 4), msg="d logZ / d arc"
    )
    g = torch.Generator().manual_seed(seed + 17)
    w = brute.rand_scores(g, 3, 5, 5, scale=1.0)
    (got,) = torch.autograd.grad((HeadSelection(arc, lengths).marginals * w).sum(), [arc])
    (exp,) = torch.autograd.grad(
        (brute.arc_marginals(enumerate_(arc, lengths), 4) * w).sum(), [arc]
    )
    assert_close(got, exp, msg="d(weighted marginals)/d arc")


def test_argmax_differs_from_per_word_argmax():
    # per-word argmax would create the cycle 1 <-> 2 and attach both 3, 4 to ROOT
    N = 4
    arc = torch.full((1, N + 1, N + 1), -4.0, dtype=F64)
    arc[0, 2, 1] = arc[0, 1, 2] = 6.0
    arc[0, 0, 3] = arc[0, 0, 4] = 5.0
    arc[0, 0, 1] = 1.0
    dist = HeadSelection(arc, torch.tensor([N]))
    am = dist.argmax[0]
    assert brute.check_tree(am.tolist(), N, False, True) is None, am.tolist()
    t = brute.tree_enumerations(arc, torch.tensor([N]), False, True)[0]
    got = float(brute.arc_score(arc[0], am[1:].unsqueeze(0)))
    assert abs(got - float(t.max_score)) < 1e-9, (am.tolist(), t.best.tolist())


def test_many_sentences_large_scores():
    g = torch.Generator().manual_seed(12345)
    lens = [1 + (i % 4) for i in range(48)]
    arc = brute.rand_scores(g, len(lens), 5, 5, scale=50.0)
    lengths = brute.as_lengths(lens)
    dist, enums = HeadSelection(arc, lengths), enumerate_(arc, lengths)
    assert_close(dist.log_partition, brute.stack_stat(enums, "log_partition"), msg="log_partition")
    assert_close(dist.marginals, brute.arc_marginals(enums, 4), msg="marginals")
    assert_close(dist.entropy, brute.stack_stat(enums, "entropy"), msg="entropy")
    trees = brute.tree_enumerations(arc, lengths, False, True)
    assert_close(dist.score(dist.argmax), brute.stack_stat(trees, "max_score"), msg="score(argmax)")
