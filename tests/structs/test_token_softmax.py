"""TokenSoftmax against brute-force enumeration of all L^n tag sequences."""

import itertools
import math

import pytest
import torch

from spacy_skd.structs import TokenSoftmax
from tests.structs import brute
from tests.structs.brute import F64, assert_close

CASES = [
    (4, 3, (4, 1, 3)),
    (3, 2, (2, 3)),
    (1, 3, (1, 1)),
    (5, 2, (5, 3, 1, 2)),
]
SEEDS = (0, 1, 2)
SCALES = (3.0, 50.0)
PARAMS = [
    pytest.param(c, s, sc, id=f"case{ci}-seed{s}-scale{sc:g}")
    for (ci, c), s, sc in itertools.product(enumerate(CASES), SEEDS, SCALES)
]


def make_inputs(case, seed, scale=3.0, dtype=F64, device="cpu"):
    N, L, lengths = case
    g = torch.Generator().manual_seed(seed)
    x = brute.rand_scores(g, len(lengths), N, L, scale=scale, dtype=dtype, device=device)
    return x, brute.as_lengths(lengths, device)


def enumerate_(x, lengths):
    return brute.softmax_enumerations(x.to(F64), lengths)


@pytest.mark.parametrize("case,seed,scale", PARAMS)
def test_log_partition_and_marginals(case, seed, scale):
    x, lengths = make_inputs(case, seed, scale)
    N, L, _ = case
    dist, enums = TokenSoftmax(x, lengths), enumerate_(x, lengths)
    assert_close(dist.log_partition, brute.stack_stat(enums, "log_partition"), msg="log_partition")
    assert_close(dist.marginals, brute.chain_marginals(enums, N, L), msg="marginals")
    assert_close(dist.pair_marginals, brute.chain_pair_marginals(enums, N, L), msg="pair_marginals")
    counts = brute.chain_pair_marginals(enums, N, L).sum(1)
    assert_close(dist.transition_counts, counts, msg="transition_counts")
    # closed form: sum over real tokens of logsumexp
    closed = torch.stack([torch.logsumexp(x[b, :n], -1).sum() for b, n in enumerate(case[2])])
    assert_close(dist.log_partition, closed, msg="log_partition closed form")


@pytest.mark.parametrize("case,seed,scale", PARAMS)
def test_argmax_score_log_prob(case, seed, scale):
    x, lengths = make_inputs(case, seed, scale)
    N, L, lens = case
    dist, enums = TokenSoftmax(x, lengths), enumerate_(x, lengths)
    am = dist.argmax
    assert am.shape == (len(lens), N) and am.dtype == torch.long
    for b, e in enumerate(enums):
        n = lens[b]
        assert am[b, n:].tolist() == [-1] * (N - n)
        k = e.index_of(am[b, :n])
        assert k >= 0 and abs(float(e.scores[k]) - float(e.max_score)) < 1e-6
    maxes = brute.stack_stat(enums, "max_score")
    assert_close(dist.score(am), maxes, msg="score(argmax)")
    assert_close(
        dist.log_prob(am), maxes - brute.stack_stat(enums, "log_partition"), msg="log_prob(argmax)"
    )
    g = torch.Generator().manual_seed(seed + 1000)
    for fill in (-1, "random"):
        chosen = [int(torch.randint(0, e.size, (1,), generator=g)) for e in enums]
        tags = brute.pad_tags(enums, chosen, N, fill=fill, gen=g, L=L)
        assert_close(
            dist.score(tags), torch.stack([e.scores[k] for e, k in zip(enums, chosen)]), msg="score"
        )
        assert_close(
            dist.log_prob(tags),
            torch.stack([e.log_probs[k] for e, k in zip(enums, chosen)]),
            msg="lp",
        )


@pytest.mark.parametrize("case,seed,scale", PARAMS)
def test_entropy_cross_entropy_kl(case, seed, scale):
    x, lengths = make_inputs(case, seed, scale)
    y, _ = make_inputs(case, seed + 100, scale)
    p, q = TokenSoftmax(x, lengths), TokenSoftmax(y, lengths)
    ep, eq = enumerate_(x, lengths), enumerate_(y, lengths)
    assert_close(p.entropy, brute.stack_stat(ep, "entropy"), msg="entropy")
    assert_close(p.cross_entropy(q), brute.stack_pair(ep, eq, "cross_entropy"), msg="cross_entropy")
    assert_close(p.kl(q), brute.stack_pair(ep, eq, "kl"), msg="kl")
    assert_close(q.kl(p), brute.stack_pair(eq, ep, "kl"), msg="kl reversed")


@pytest.mark.parametrize("seed", SEEDS)
def test_padding_does_not_affect_outputs(seed):
    case = (5, 3, (5, 1, 3, 2))
    x, lengths = make_inputs(case, seed)
    g = torch.Generator().manual_seed(seed + 7)
    xg = x.clone()
    for b, n in enumerate(case[2]):
        xg[b, n:] = brute.rand_scores(g, 5 - n, 3, scale=1e3)
    d0, d1 = TokenSoftmax(x, lengths), TokenSoftmax(xg, lengths)
    for name in ("log_partition", "marginals", "pair_marginals", "entropy"):
        assert_close(getattr(d1, name), getattr(d0, name), atol=1e-9, msg=name)
    assert torch.equal(d0.argmax, d1.argmax)
    assert_close(d1.log_prob(d0.argmax), d0.log_prob(d0.argmax), atol=1e-9, msg="log_prob")
    for b, n in enumerate(case[2]):
        assert (d1.marginals[b, n:] == 0).all()
        assert (d1.pair_marginals[b, n - 1 :] == 0).all()


def test_all_zero_scores_uniform():
    lengths = (4, 1, 2)
    dist = TokenSoftmax(torch.zeros(3, 4, 3, dtype=F64), brute.as_lengths(lengths))
    ns = torch.tensor(lengths, dtype=F64)
    assert_close(dist.log_partition, ns * math.log(3))
    assert_close(dist.entropy, ns * math.log(3))
    for b, n in enumerate(lengths):
        assert_close(dist.marginals[b, :n], torch.full((n, 3), 1 / 3, dtype=F64))


@pytest.mark.parametrize("seed", SEEDS)
def test_float32_large_scores(seed):
    case = (4, 3, (4, 1, 3))
    x, lengths = make_inputs(case, seed, 100.0, dtype=torch.float32)
    dist, enums = TokenSoftmax(x, lengths), enumerate_(x, lengths)
    assert torch.isfinite(dist.log_partition).all() and torch.isfinite(dist.entropy).all()
    assert_close(dist.log_partition, brute.stack_stat(enums, "log_partition"), atol=1e-3, rtol=1e-3)
    assert_close(dist.marginals, brute.chain_marginals(enums, 4, 3), atol=1e-3, rtol=0)
    assert_close(dist.pair_marginals, brute.chain_pair_marginals(enums, 4, 3), atol=1e-3, rtol=0)


@pytest.mark.parametrize("seed", SEEDS)
def test_gradients(seed):
    case = (4, 3, (4, 1, 3))
    x, lengths = make_inputs(case, seed, 3.0)
    x.requires_grad_(True)
    dist = TokenSoftmax(x, lengths)
    dist.log_partition.sum().backward()
    enums = enumerate_(x.detach(), lengths)
    assert_close(x.grad, brute.chain_marginals(enums, 4, 3), msg="d logZ / d logits")
    g = torch.Generator().manual_seed(seed + 11)
    w = brute.rand_scores(g, 3, 4, 3, scale=1.0)
    w2 = brute.rand_scores(g, 3, 3, 3, 3, scale=1.0)
    dist = TokenSoftmax(x, lengths)
    (got,) = torch.autograd.grad((dist.marginals * w).sum() + (dist.pair_marginals * w2).sum(), [x])
    enums = enumerate_(x, lengths)
    obj = (brute.chain_marginals(enums, 4, 3) * w).sum() + (
        brute.chain_pair_marginals(enums, 4, 3) * w2
    ).sum()
    (exp,) = torch.autograd.grad(obj, [x])
    assert_close(got, exp, msg="d(weighted marginals)/d logits")
