"""SemiMarkovCRF (BIO and BILUO views) against brute-force enumeration of segmentations."""

import itertools
import math

import pytest
import torch

from spacy_skd.structs import SemiMarkovCRF
from tests.structs import brute
from tests.structs.brute import F64, SCHEMES, assert_close

# (N, K, E, lengths)
CASES = [
    (4, 2, 2, (4, 1, 3)),
    (5, 3, 1, (5, 2)),
    (3, 4, 2, (3, 3)),  # K > N: spans running past n are impossible
    (1, 1, 1, (1,)),
    (4, 1, 2, (4, 2)),  # K = 1: BIO uses only B, BILUO only U
    (2, 4, 1, (2, 1)),  # K >= N + 2
]
SEEDS = (0, 1, 2)


def _scale(seed):
    return 50.0 if seed == 1 else 3.0


def _with_outside(seed):
    return seed != 2


PARAMS = [
    pytest.param(c, sch, s, id=f"case{ci}-{sch}-seed{s}")
    for (ci, c), sch, s in itertools.product(enumerate(CASES), SCHEMES, SEEDS)
]


def make_inputs(case, seed, scale=None, outside=None, dtype=F64, device="cpu"):
    N, K, E, lengths = case
    scale = _scale(seed) if scale is None else scale
    outside = _with_outside(seed) if outside is None else outside
    g = torch.Generator().manual_seed(seed)
    span = brute.rand_scores(g, len(lengths), N, K, E, scale=scale, dtype=dtype, device=device)
    out = (
        brute.rand_scores(g, len(lengths), N, scale=scale, dtype=dtype, device=device)
        if outside
        else None
    )
    return span, out, brute.as_lengths(lengths, device)


def build(span, out, lengths, scheme):
    return SemiMarkovCRF(span, lengths, outside=out, scheme=scheme)


def enumerate_(span, out, lengths, scheme):
    return brute.semimarkov_enumerations(
        span.to(F64), lengths, None if out is None else out.to(F64), scheme=scheme
    )


@pytest.mark.parametrize("case,scheme,seed", PARAMS)
def test_log_partition(case, scheme, seed):
    span, out, lengths = make_inputs(case, seed)
    dist, enums = build(span, out, lengths, scheme), enumerate_(span, out, lengths, scheme)
    assert dist.log_partition.shape == (len(case[3]),)
    assert_close(dist.log_partition, brute.stack_stat(enums, "log_partition"), msg="log_partition")


@pytest.mark.parametrize("case,scheme,seed", PARAMS)
def test_span_marginals(case, scheme, seed):
    span, out, lengths = make_inputs(case, seed)
    dist, enums = build(span, out, lengths, scheme), enumerate_(span, out, lengths, scheme)
    assert_close(dist.span_marginals, brute.span_marginals(enums, case[0]), msg="span_marginals")


@pytest.mark.parametrize("case,scheme,seed", PARAMS)
def test_tag_marginals(case, scheme, seed):
    span, out, lengths = make_inputs(case, seed)
    N, K, E, lens = case
    T = brute.num_tags(scheme, E)
    dist, enums = build(span, out, lengths, scheme), enumerate_(span, out, lengths, scheme)
    m = dist.marginals
    assert m.shape == (len(lens), N, T)
    exp = brute.tag_marginals(enums, N, T)
    for b, n in enumerate(lens):
        assert_close(m[b, :n], exp[b, :n], msg=f"marginals[{b}]")


@pytest.mark.parametrize("case,scheme,seed", PARAMS)
def test_tag_pair_marginals(case, scheme, seed):
    span, out, lengths = make_inputs(case, seed)
    N, K, E, lens = case
    T = brute.num_tags(scheme, E)
    dist, enums = build(span, out, lengths, scheme), enumerate_(span, out, lengths, scheme)
    pm = dist.pair_marginals
    assert pm.shape == (len(lens), N - 1, T, T)
    exp = brute.tag_pair_marginals(enums, N, T)
    for b, n in enumerate(lens):
        assert_close(pm[b, : n - 1], exp[b, : n - 1], msg=f"pair_marginals[{b}]")
    assert_close(dist.transition_counts, exp.sum(1), msg="transition_counts")


@pytest.mark.parametrize("case,scheme,seed", PARAMS[::3])
def test_padding_tag_marginals_are_zero(case, scheme, seed):
    span, out, lengths = make_inputs(case, seed)
    dist = build(span, out, lengths, scheme)
    for b, n in enumerate(case[3]):
        assert (dist.marginals[b, n:] == 0).all()
        assert (dist.pair_marginals[b, n - 1 :] == 0).all()
        assert (dist.argmax[b, n:] == -1).all()


@pytest.mark.parametrize("case,scheme,seed", PARAMS)
def test_argmax(case, scheme, seed):
    span, out, lengths = make_inputs(case, seed)
    N, K, E, lens = case
    dist, enums = build(span, out, lengths, scheme), enumerate_(span, out, lengths, scheme)
    am = dist.argmax
    assert am.shape == (len(lens), N) and am.dtype == torch.long
    for b, e in enumerate(enums):
        n = lens[b]
        assert am[b, n:].tolist() == [-1] * (N - n)
        segs = brute.decode_tags(am[b, :n].tolist(), scheme, E)
        assert segs is not None, f"argmax {am[b].tolist()} is not a valid {scheme} sequence"
        assert all(g[0] == "O" or g[1] <= K for g in segs), f"span wider than K={K}: {segs}"
        got = float(brute.segmentation_score(span[b], None if out is None else out[b], segs))
        assert abs(got - float(e.max_score)) < 1e-6, (
            f"argmax {am[b].tolist()} scores {got}; "
            f"best {e.best.tolist()} scores {float(e.max_score)}"
        )
    maxes = brute.stack_stat(enums, "max_score")
    assert_close(dist.score(am), maxes, msg="score(argmax)")
    assert_close(
        dist.log_prob(am), maxes - brute.stack_stat(enums, "log_partition"), msg="log_prob(argmax)"
    )


@pytest.mark.parametrize("fill", [-1, 0])
@pytest.mark.parametrize("case,scheme,seed", PARAMS)
def test_log_prob_and_score(case, scheme, seed, fill):
    span, out, lengths = make_inputs(case, seed)
    N = case[0]
    dist, enums = build(span, out, lengths, scheme), enumerate_(span, out, lengths, scheme)
    g = torch.Generator().manual_seed(seed + 1000)
    for _ in range(3):
        chosen = [int(torch.randint(0, e.size, (1,), generator=g)) for e in enums]
        tags = brute.pad_tags(enums, chosen, N, fill=fill)
        exp_s = torch.stack([e.scores[k] for e, k in zip(enums, chosen)])
        exp_lp = torch.stack([e.log_probs[k] for e, k in zip(enums, chosen)])
        assert_close(dist.score(tags), exp_s, msg=f"score({tags.tolist()})")
        assert_close(dist.log_prob(tags), exp_lp, msg=f"log_prob({tags.tolist()})")


@pytest.mark.parametrize("case,scheme,seed", PARAMS)
def test_entropy_cross_entropy_kl(case, scheme, seed):
    s1, o1, lengths = make_inputs(case, seed)
    s2, o2, _ = make_inputs(case, seed + 100, scale=_scale(seed), outside=_with_outside(seed))
    p, q = build(s1, o1, lengths, scheme), build(s2, o2, lengths, scheme)
    ep, eq = enumerate_(s1, o1, lengths, scheme), enumerate_(s2, o2, lengths, scheme)
    assert_close(p.entropy, brute.stack_stat(ep, "entropy"), msg="entropy")
    assert_close(p.cross_entropy(q), brute.stack_pair(ep, eq, "cross_entropy"), msg="cross_entropy")
    assert_close(p.kl(q), brute.stack_pair(ep, eq, "kl"), msg="kl")
    assert_close(q.kl(p), brute.stack_pair(eq, ep, "kl"), msg="kl reversed")


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("seed", SEEDS)
def test_impossible_spans_and_padding_do_not_affect_outputs(scheme, seed):
    case = (5, 3, 2, (5, 1, 3, 2))
    N, K, E, lens = case
    span, out, lengths = make_inputs(case, seed, scale=3.0, outside=True)
    g = torch.Generator().manual_seed(seed + 7)
    clean_s, clean_o = span.clone(), out.clone()
    dirty_s, dirty_o = span.clone(), out.clone()
    for b, n in enumerate(lens):
        for i in range(N):
            for k in range(K):
                if i + k >= n:  # span i..i+k runs past the sentence
                    clean_s[b, i, k] = 0.0
                    dirty_s[b, i, k] = brute.rand_scores(g, E, scale=1e3)
        clean_o[b, n:] = 0.0
        dirty_o[b, n:] = brute.rand_scores(g, N - n, scale=1e3)
    d0, d1 = build(clean_s, clean_o, lengths, scheme), build(dirty_s, dirty_o, lengths, scheme)
    for name in ("log_partition", "span_marginals", "marginals", "pair_marginals", "entropy"):
        assert_close(getattr(d1, name), getattr(d0, name), atol=1e-9, msg=name)
    assert torch.equal(d0.argmax, d1.argmax)
    assert_close(d1.log_prob(d0.argmax), d0.log_prob(d0.argmax), atol=1e-9, msg="log_prob")
    enums = enumerate_(clean_s, clean_o, lengths, scheme)
    assert_close(d1.span_marginals, brute.span_marginals(enums, N), msg="span_marginals vs brute")
    sm = d1.span_marginals
    for b, n in enumerate(lens):
        for i in range(N):
            for k in range(K):
                if i + k >= n:
                    assert (sm[b, i, k] == 0).all(), f"impossible span ({b},{i},{k}) has mass"


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("n,K,E", [(1, 1, 1), (3, 2, 2), (4, 3, 1), (5, 2, 2), (4, 5, 1)])
def test_all_zero_scores_count_segmentations(scheme, n, K, E):
    N = 5
    span = torch.zeros(1, N, K, E, dtype=F64)
    lengths = torch.tensor([n])
    for out in (None, torch.zeros(1, N, dtype=F64)):
        dist = SemiMarkovCRF(span, lengths, outside=out, scheme=scheme)
        c = brute.count_segmentations(n, K, E)
        assert_close(
            dist.log_partition, torch.tensor([math.log(c)], dtype=F64), msg="log #segmentations"
        )
        assert_close(dist.entropy, torch.tensor([math.log(c)], dtype=F64), msg="entropy")
        enums = enumerate_(span, out, lengths, scheme)
        assert_close(dist.span_marginals, brute.span_marginals(enums, N), msg="span_marginals")
        T = brute.num_tags(scheme, E)
        assert_close(
            dist.marginals[0, :n], brute.tag_marginals(enums, N, T)[0, :n], msg="marginals"
        )


@pytest.mark.parametrize("scheme", SCHEMES)
def test_length_one(scheme):
    g = torch.Generator().manual_seed(4)
    E = 2
    span = brute.rand_scores(g, 2, 3, 2, E)
    out = brute.rand_scores(g, 2, 3)
    dist = SemiMarkovCRF(span, torch.tensor([1, 1]), outside=out, scheme=scheme)
    u = torch.cat([out[:, :1], span[:, 0, 0, :]], -1)  # O, entity e of width 1
    assert_close(dist.log_partition, torch.logsumexp(u, -1), msg="log_partition")
    p = torch.softmax(u, -1)
    T = brute.num_tags(scheme, E)
    exp = torch.zeros(2, T, dtype=F64)
    exp[:, 0] = p[:, 0]
    for e in range(E):
        exp[:, brute.span_to_tags(scheme, 1, e)[0]] = p[:, 1 + e]
    assert_close(dist.marginals[:, 0], exp, msg="marginals")


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("seed", (0, 1))
def test_float32_large_scores(scheme, seed):
    case = (4, 2, 2, (4, 1, 3))
    N, K, E, lens = case
    T = brute.num_tags(scheme, E)
    span, out, lengths = make_inputs(case, seed, scale=100.0, outside=True, dtype=torch.float32)
    dist, enums = build(span, out, lengths, scheme), enumerate_(span, out, lengths, scheme)
    assert torch.isfinite(dist.log_partition).all() and torch.isfinite(dist.span_marginals).all()
    assert torch.isfinite(dist.marginals).all() and torch.isfinite(dist.entropy).all()
    assert_close(dist.log_partition, brute.stack_stat(enums, "log_partition"), atol=1e-3, rtol=1e-3)
    assert_close(dist.span_marginals, brute.span_marginals(enums, N), atol=1e-3, rtol=0)
    exp = brute.tag_marginals(enums, N, T)
    for b, n in enumerate(lens):
        assert_close(dist.marginals[b, :n], exp[b, :n], atol=1e-3, rtol=0)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("seed", (0, 1))
def test_gradients(scheme, seed):
    case = (4, 2, 2, (4, 1, 3))
    N, K, E, lens = case
    T = brute.num_tags(scheme, E)
    span, out, lengths = make_inputs(case, seed, outside=True)
    span.requires_grad_(True)
    out.requires_grad_(True)
    build(span, out, lengths, scheme).log_partition.sum().backward()
    enums = enumerate_(span.detach(), out.detach(), lengths, scheme)
    assert_close(span.grad, brute.span_marginals(enums, N), msg="d logZ / d span_scores")
    assert_close(
        out.grad, brute.tag_marginals(enums, N, T)[..., 0], msg="d logZ / d outside = P(O)"
    )
    # marginals differentiable
    g = torch.Generator().manual_seed(seed + 17)
    w1 = brute.rand_scores(g, 3, N, K, E, scale=1.0)
    w2 = brute.rand_scores(g, 3, N, T, scale=1.0)
    w3 = brute.rand_scores(g, 3, N - 1, T, T, scale=1.0)
    mask = torch.zeros(3, N, 1, dtype=F64)
    mask2 = torch.zeros(3, N - 1, 1, 1, dtype=F64)
    for b, n in enumerate(lens):
        mask[b, :n] = 1
        mask2[b, : n - 1] = 1
    d = build(span, out, lengths, scheme)
    obj = (
        (d.span_marginals * w1).sum()
        + (d.marginals * w2 * mask).sum()
        + (d.pair_marginals * w3 * mask2).sum()
    )
    got = torch.autograd.grad(obj, [span, out])
    enums = enumerate_(span, out, lengths, scheme)
    obj = (
        (brute.span_marginals(enums, N) * w1).sum()
        + (brute.tag_marginals(enums, N, T) * w2 * mask).sum()
        + (brute.tag_pair_marginals(enums, N, T) * w3 * mask2).sum()
    )
    exp = torch.autograd.grad(obj, [span, out])
    assert_close(got[0], exp[0], msg="d(weighted marginals)/d span_scores")
    assert_close(got[1], exp[1], msg="d(weighted marginals)/d outside")


def test_default_scheme_is_bio():
    span, out, lengths = make_inputs((3, 2, 2, (3, 2)), 0)
    d = SemiMarkovCRF(span, lengths, outside=out)
    assert d.marginals.shape[-1] == brute.num_tags("BIO", 2)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("N,K", [(1, 2), (1, 3), (2, 4), (3, 6)])
def test_max_width_larger_than_sentence(scheme, N, K):
    span = torch.zeros(1, N, K, 1, dtype=F64)
    dist = SemiMarkovCRF(span, torch.tensor([N]), scheme=scheme)
    log_count = math.log(brute.count_segmentations(N, K, 1))
    assert_close(dist.log_partition, torch.tensor([log_count], dtype=F64), msg="log #segmentations")
    enums = enumerate_(span, None, torch.tensor([N]), scheme)
    assert_close(dist.span_marginals, brute.span_marginals(enums, N), msg="span_marginals")
