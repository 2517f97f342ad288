"""LinearChainCRF against brute-force enumeration of all L^n tag sequences."""

import itertools
import math

import pytest
import torch

from spacy_skd.structs import LinearChainCRF
from tests.structs import brute
from tests.structs.brute import F64, assert_close

# (N, L, lengths)
CASES = [
    (4, 3, (4, 1, 3)),
    (4, 2, (2, 4)),
    (1, 3, (1, 1)),
    (5, 2, (5, 3, 1, 2)),
]
SEEDS = (0, 1, 2)
SCALES = (3.0, 50.0)
# plain: transitions [L, L], start = end = None
# shared: transitions [L, L], start/end [L]
# batched: transitions [B, L, L], start/end [B, L]
FORMS = ("plain", "shared", "batched")

PARAMS = [
    pytest.param(c, s, sc, FORMS[k % len(FORMS)], id=f"case{ci}-seed{s}-scale{sc:g}-{FORMS[k % 3]}")
    for k, ((ci, c), s, sc) in enumerate(itertools.product(enumerate(CASES), SEEDS, SCALES))
]


def make_inputs(case, seed, scale=3.0, form="batched", dtype=F64, device="cpu"):
    N, L, lengths = case
    B = len(lengths)
    g = torch.Generator().manual_seed(seed)
    em = brute.rand_scores(g, B, N, L, scale=scale)
    if form == "plain":
        tr, st, en = brute.rand_scores(g, L, L, scale=scale), None, None
    elif form == "shared":
        tr = brute.rand_scores(g, L, L, scale=scale)
        st, en = brute.rand_scores(g, L, scale=scale), brute.rand_scores(g, L, scale=scale)
    else:
        tr = brute.rand_scores(g, B, L, L, scale=scale)
        st, en = brute.rand_scores(g, B, L, scale=scale), brute.rand_scores(g, B, L, scale=scale)

    def cv(x):
        return None if x is None else x.to(dtype=dtype, device=device)

    return dict(
        emissions=cv(em),
        transitions=cv(tr),
        lengths=brute.as_lengths(lengths, device),
        start=cv(st),
        end=cv(en),
    )


def build(inp):
    return LinearChainCRF(
        inp["emissions"], inp["transitions"], inp["lengths"], start=inp["start"], end=inp["end"]
    )


def enumerate_(inp):
    return brute.chain_enumerations(
        inp["emissions"].to(F64),
        inp["transitions"].to(F64),
        inp["lengths"],
        None if inp["start"] is None else inp["start"].to(F64),
        None if inp["end"] is None else inp["end"].to(F64),
    )


def dims(inp):
    B, N, L = inp["emissions"].shape
    return B, N, L


# --------------------------------------------------------------------------
@pytest.mark.parametrize("case,seed,scale,form", PARAMS)
def test_log_partition(case, seed, scale, form):
    inp = make_inputs(case, seed, scale, form)
    dist, enums = build(inp), enumerate_(inp)
    assert dist.log_partition.shape == (len(case[2]),)
    assert_close(dist.log_partition, brute.stack_stat(enums, "log_partition"), msg="log_partition")


@pytest.mark.parametrize("case,seed,scale,form", PARAMS)
def test_marginals(case, seed, scale, form):
    inp = make_inputs(case, seed, scale, form)
    dist, enums = build(inp), enumerate_(inp)
    B, N, L = dims(inp)
    assert_close(dist.marginals, brute.chain_marginals(enums, N, L), msg="marginals")


@pytest.mark.parametrize("case,seed,scale,form", PARAMS)
def test_one_pass_forward_backward_equals_two(case, seed, scale, form):
    """Marginals asked first walk the positions once for alphas and betas
    together; after log Z the betas take a pass of their own: both agree, values
    and gradients."""
    inp = make_inputs(case, seed, scale, form)
    leaves = [x for x in inp.values() if x is not None and x.is_floating_point()]
    for x in leaves:
        x.requires_grad_(True)
    one_pass, two_passes = build(inp), build(inp)
    marginals = one_pass.marginals
    log_z = two_passes.log_partition
    assert "_betas" not in two_passes.__dict__
    assert_close(marginals, two_passes.marginals, msg="marginals")
    assert_close(one_pass._alphas, two_passes._alphas, msg="alphas")
    assert_close(one_pass._betas, two_passes._betas, msg="betas")
    assert_close(one_pass.log_partition, log_z, msg="log_partition")
    weights = brute.rand_scores(torch.Generator().manual_seed(seed), *marginals.shape, scale=1.0)
    # allow_unused: with one position the transitions take no part
    got = torch.autograd.grad((marginals * weights).sum(), leaves, allow_unused=True)
    expected = torch.autograd.grad(
        (two_passes.marginals * weights).sum(), leaves, allow_unused=True
    )
    for a, e in zip(got, expected):
        assert (a is None) == (e is None)
        if a is not None:
            assert_close(a, e, msg="gradient")


@pytest.mark.parametrize("case,seed,scale,form", PARAMS)
def test_pair_marginals(case, seed, scale, form):
    inp = make_inputs(case, seed, scale, form)
    dist, enums = build(inp), enumerate_(inp)
    B, N, L = dims(inp)
    assert_close(dist.pair_marginals, brute.chain_pair_marginals(enums, N, L), msg="pair_marginals")
    expected_counts = brute.chain_pair_marginals(enums, N, L).sum(1)
    assert_close(dist.transition_counts, expected_counts, msg="transition_counts")


@pytest.mark.parametrize("case,seed,scale,form", PARAMS)
def test_argmax(case, seed, scale, form):
    inp = make_inputs(case, seed, scale, form)
    dist, enums = build(inp), enumerate_(inp)
    B, N, L = dims(inp)
    am = dist.argmax
    assert am.shape == (B, N) and am.dtype == torch.long
    for b, e in enumerate(enums):
        n = int(inp["lengths"][b])
        assert am[b, n:].tolist() == [-1] * (N - n), "padding of argmax must be -1"
        row = am[b, :n].cpu()
        assert ((row >= 0) & (row < L)).all()
        k = e.index_of(row)
        assert k >= 0
        assert abs(float(e.scores[k]) - float(e.max_score)) < 1e-6, (
            f"argmax {row.tolist()} scores {float(e.scores[k])}, "
            f"best {e.best.tolist()} scores {float(e.max_score)}"
        )
    # the argmax is a structure of the distribution: score/log_prob consistent
    maxes = brute.stack_stat(enums, "max_score")
    assert_close(dist.score(am), maxes, msg="score(argmax)")
    assert_close(
        dist.log_prob(am), maxes - brute.stack_stat(enums, "log_partition"), msg="log_prob(argmax)"
    )


@pytest.mark.parametrize("fill", [-1, "random"])
@pytest.mark.parametrize("case,seed,scale,form", PARAMS)
def test_log_prob_and_score(case, seed, scale, form, fill):
    inp = make_inputs(case, seed, scale, form)
    dist, enums = build(inp), enumerate_(inp)
    B, N, L = dims(inp)
    g = torch.Generator().manual_seed(seed + 1000)
    for _ in range(3):
        chosen = [int(torch.randint(0, e.size, (1,), generator=g)) for e in enums]
        tags = brute.pad_tags(enums, chosen, N, fill=fill, gen=g, L=L)
        exp_score = torch.stack([e.scores[k] for e, k in zip(enums, chosen)])
        exp_lp = torch.stack([e.log_probs[k] for e, k in zip(enums, chosen)])
        assert_close(dist.score(tags), exp_score, msg=f"score({tags.tolist()})")
        assert_close(dist.log_prob(tags), exp_lp, msg=f"log_prob({tags.tolist()})")


def test_log_prob_ignores_out_of_range_padding():
    case = (4, 3, (4, 1, 3))
    inp = make_inputs(case, 5, 3.0, "batched")
    dist, enums = build(inp), enumerate_(inp)
    chosen = [0, 0, 0]
    tags = brute.pad_tags(enums, chosen, 4, fill=-1)
    ref = dist.log_prob(tags)
    bad = tags.clone()
    bad[bad < 0] = 10**6
    assert_close(dist.log_prob(bad), ref, msg="log_prob with out-of-range padding")
    assert_close(dist.score(bad), dist.score(tags), msg="score with out-of-range padding")


@pytest.mark.parametrize("case,seed,scale,form", PARAMS)
def test_entropy(case, seed, scale, form):
    inp = make_inputs(case, seed, scale, form)
    dist, enums = build(inp), enumerate_(inp)
    assert_close(dist.entropy, brute.stack_stat(enums, "entropy"), msg="entropy")


@pytest.mark.parametrize("case,seed,scale,form", PARAMS)
def test_cross_entropy_and_kl(case, seed, scale, form):
    inp_p = make_inputs(case, seed, scale, form)
    inp_q = make_inputs(case, seed + 100, scale, form)
    p, q = build(inp_p), build(inp_q)
    ep, eq = enumerate_(inp_p), enumerate_(inp_q)
    assert_close(p.cross_entropy(q), brute.stack_pair(ep, eq, "cross_entropy"), msg="cross_entropy")
    assert_close(p.kl(q), brute.stack_pair(ep, eq, "kl"), msg="kl")
    assert_close(q.kl(p), brute.stack_pair(eq, ep, "kl"), msg="kl reversed")
    assert_close(p.kl(p), torch.zeros(len(case[2]), dtype=F64), msg="kl(p, p)")
    assert_close(p.cross_entropy(p), p.entropy, msg="cross_entropy(p, p) = entropy")


@pytest.mark.parametrize("seed", SEEDS)
def test_padding_does_not_affect_outputs(seed):
    case = (5, 3, (5, 1, 3, 2))
    inp = make_inputs(case, seed, 3.0, "batched")
    B, N, L = dims(inp)
    g = torch.Generator().manual_seed(seed + 7)
    garbage = dict(inp)
    em = inp["emissions"].clone()
    for b, n in enumerate(case[2]):
        em[b, n:] = brute.rand_scores(g, N - n, L, scale=1e3)
    garbage["emissions"] = em
    d0, d1 = build(inp), build(garbage)
    for name in ("log_partition", "marginals", "pair_marginals", "entropy"):
        assert_close(getattr(d1, name), getattr(d0, name), atol=1e-9, msg=name)
    assert torch.equal(d1.argmax, d0.argmax)
    tags = d0.argmax
    assert_close(d1.log_prob(tags), d0.log_prob(tags), atol=1e-9, msg="log_prob")
    # and both still agree with the brute force on the clean inputs
    enums = enumerate_(inp)
    assert_close(d1.marginals, brute.chain_marginals(enums, N, L), msg="marginals")
    other = build(make_inputs(case, seed + 1, 3.0, "batched"))
    assert_close(d1.kl(other), d0.kl(other), atol=1e-9, msg="kl")
    assert_close(other.kl(d1), other.kl(d0), atol=1e-9, msg="kl reversed")


@pytest.mark.parametrize("case,seed,scale,form", PARAMS[:8])
def test_padding_is_exactly_zero(case, seed, scale, form):
    inp = make_inputs(case, seed, scale, form)
    dist = build(inp)
    m, pm = dist.marginals, dist.pair_marginals
    for b, n in enumerate(case[2]):
        assert (m[b, n:] == 0).all()
        assert (pm[b, n - 1 :] == 0).all()
        assert (dist.argmax[b, n:] == -1).all()


@pytest.mark.parametrize("case", CASES)
def test_all_zero_scores_uniform(case):
    N, L, lengths = case
    B = len(lengths)
    z = torch.zeros(B, N, L, dtype=F64)
    dist = LinearChainCRF(z, torch.zeros(L, L, dtype=F64), brute.as_lengths(lengths))
    ns = torch.tensor(lengths, dtype=F64)
    assert_close(dist.log_partition, ns * math.log(L), msg="log_partition")
    assert_close(dist.entropy, ns * math.log(L), msg="entropy")
    exp_m = torch.zeros(B, N, L, dtype=F64)
    exp_p = torch.zeros(B, N - 1, L, L, dtype=F64)
    for b, n in enumerate(lengths):
        exp_m[b, :n] = 1.0 / L
        exp_p[b, : n - 1] = 1.0 / L**2
    assert_close(dist.marginals, exp_m, msg="marginals")
    assert_close(dist.pair_marginals, exp_p, msg="pair_marginals")


@pytest.mark.parametrize("seed", SEEDS)
def test_length_one_closed_form(seed):
    g = torch.Generator().manual_seed(seed)
    L = 3
    em = brute.rand_scores(g, 2, 1, L)
    tr = brute.rand_scores(g, L, L, scale=10.0)  # must not matter for n = 1
    st, en = brute.rand_scores(g, L), brute.rand_scores(g, L)
    dist = LinearChainCRF(em, tr, torch.tensor([1, 1]), start=st, end=en)
    u = em[:, 0] + st + en
    assert_close(dist.log_partition, torch.logsumexp(u, -1), msg="log_partition")
    assert_close(dist.marginals[:, 0], torch.softmax(u, -1), msg="marginals")
    assert dist.pair_marginals.shape == (2, 0, L, L)
    assert dist.argmax[:, 0].tolist() == u.argmax(-1).tolist()


@pytest.mark.parametrize("seed", SEEDS)
def test_transition_shapes_equivalent(seed):
    case = (4, 3, (4, 2, 1))
    inp = make_inputs(case, seed, 3.0, "shared")
    B = 3
    batched = dict(inp)
    batched["transitions"] = inp["transitions"].unsqueeze(0).expand(B, -1, -1).clone()
    batched["start"] = inp["start"].unsqueeze(0).expand(B, -1).clone()
    batched["end"] = inp["end"].unsqueeze(0).expand(B, -1).clone()
    d0, d1 = build(inp), build(batched)
    for name in ("log_partition", "marginals", "pair_marginals", "entropy"):
        assert_close(getattr(d1, name), getattr(d0, name), msg=name)
    assert torch.equal(d0.argmax, d1.argmax)
    # None start/end == zeros
    nz = dict(inp, start=None, end=None)
    z = dict(inp, start=torch.zeros(3, dtype=F64), end=torch.zeros(3, dtype=F64))
    assert_close(build(nz).log_partition, build(z).log_partition, msg="None start/end vs zeros")


@pytest.mark.parametrize("seed", SEEDS)
def test_float32_large_scores(seed):
    case = (4, 3, (4, 1, 3))
    inp32 = make_inputs(case, seed, 100.0, "batched", dtype=torch.float32)
    dist = build(inp32)
    enums = enumerate_(inp32)  # float64 brute force on the same float32 values
    B, N, L = dims(inp32)
    lz = dist.log_partition
    assert torch.isfinite(lz).all()
    assert torch.isfinite(dist.marginals).all() and torch.isfinite(dist.pair_marginals).all()
    assert torch.isfinite(dist.entropy).all()
    assert_close(
        lz, brute.stack_stat(enums, "log_partition"), atol=1e-3, rtol=1e-3, msg="log_partition"
    )
    assert_close(
        dist.marginals, brute.chain_marginals(enums, N, L), atol=1e-3, rtol=0, msg="marginals"
    )
    assert_close(
        dist.pair_marginals, brute.chain_pair_marginals(enums, N, L), atol=1e-3, rtol=0, msg="pair"
    )
    for b, e in enumerate(enums):
        n = case[2][b]
        k = e.index_of(dist.argmax[b, :n].cpu())
        assert float(e.scores[k]) >= float(e.max_score) - 1e-3 * abs(float(e.max_score))


@pytest.mark.parametrize("case,seed,scale,form", [p for p in PARAMS if p.values[3] != "plain"][:8])
def test_gradient_of_log_partition_is_marginals(case, seed, scale, form):
    inp = make_inputs(case, seed, scale, form)
    for k in ("emissions", "transitions", "start", "end"):
        inp[k].requires_grad_(True)
    dist = build(inp)
    dist.log_partition.sum().backward()
    enums = enumerate_({k: (v.detach() if torch.is_tensor(v) else v) for k, v in inp.items()})
    B, N, L = dims(inp)
    m = brute.chain_marginals(enums, N, L)
    pm = brute.chain_pair_marginals(enums, N, L)
    lengths = case[2]
    assert_close(inp["emissions"].grad, m, msg="d logZ / d emissions")
    first = m[:, 0]
    last = torch.stack([m[b, n - 1] for b, n in enumerate(lengths)])
    trans = pm.sum(1)
    if form == "shared":
        first, last, trans = first.sum(0), last.sum(0), trans.sum(0)
    assert_close(inp["transitions"].grad, trans, msg="d logZ / d transitions")
    assert_close(inp["start"].grad, first, msg="d logZ / d start")
    assert_close(inp["end"].grad, last, msg="d logZ / d end")


@pytest.mark.parametrize("seed", SEEDS)
def test_marginals_are_differentiable(seed):
    case = (4, 3, (4, 1, 3))
    inp = make_inputs(case, seed, 3.0, "batched")
    B, N, L = dims(inp)
    g = torch.Generator().manual_seed(seed + 11)
    w = brute.rand_scores(g, B, N, L, scale=1.0)
    w2 = brute.rand_scores(g, B, N - 1, L, L, scale=1.0)
    leaves = [inp["emissions"], inp["transitions"], inp["start"], inp["end"]]
    for x in leaves:
        x.requires_grad_(True)
    dist = build(inp)
    got = torch.autograd.grad((dist.marginals * w).sum() + (dist.pair_marginals * w2).sum(), leaves)
    enums = enumerate_(inp)
    obj = (brute.chain_marginals(enums, N, L) * w).sum() + (
        brute.chain_pair_marginals(enums, N, L) * w2
    ).sum()
    exp = torch.autograd.grad(obj, leaves)
    for name, a, e in zip(("emissions", "transitions", "start", "end"), got, exp):
        assert_close(a, e, msg=f"d(weighted marginals)/d {name}")


def _with_forbidden_parts(inp):
    """`inp` with its last label impossible, as a label only a student has
    (emissions, transitions to and from it, start and end at -inf), and with
    three labels or more, a transition and a start forbidden too."""
    forbidden = {
        name: None if value is None or not value.is_floating_point() else value.clone()
        for name, value in inp.items()
    }
    forbidden["lengths"] = inp["lengths"]
    forbidden["emissions"][..., -1] = -math.inf
    forbidden["transitions"][..., -1, :] = -math.inf
    forbidden["transitions"][..., :, -1] = -math.inf
    if inp["start"] is not None:
        forbidden["start"][..., -1] = -math.inf
        forbidden["end"][..., -1] = -math.inf
    if inp["emissions"].shape[-1] > 2:
        forbidden["transitions"][..., 0, 1] = -math.inf
        if inp["start"] is not None:
            forbidden["start"][..., 0] = -math.inf
    return forbidden


@pytest.mark.parametrize("forbidden", [False, True])
@pytest.mark.parametrize("case,seed,scale,form", PARAMS[::2])
def test_transition_counts_alone_and_their_gradients(case, seed, scale, form, forbidden):
    """Transition counts asked first (one matrix product over the positions, no
    pair marginals built) equal the brute force, and the sum of the pair
    marginals in gradient too."""
    inp = make_inputs(case, seed, scale, form)
    if forbidden:
        inp = _with_forbidden_parts(inp)
    B, N, L = dims(inp)
    assert_close(
        build(inp).transition_counts,
        brute.chain_pair_marginals(enumerate_(inp), N, L).sum(1),
        msg="transition_counts",
    )
    leaves = [x for x in inp.values() if x is not None and x.is_floating_point()]
    for x in leaves:
        x.requires_grad_(True)
    weights = brute.rand_scores(torch.Generator().manual_seed(seed), B, L, L, scale=1.0)
    got = torch.autograd.grad((build(inp).transition_counts * weights).sum(), leaves)
    summed = (build(inp).pair_marginals.sum(1) * weights).sum()
    for a, e in zip(got, torch.autograd.grad(summed, leaves)):
        assert_close(a, e, msg="gradient")


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("forbidden", [False, True])
@pytest.mark.parametrize("case,seed,scale,form", [p for p in PARAMS if p.values[0][0] > 1][::2])
def test_product_walk_equals_logsumexp_walk(case, seed, scale, form, forbidden, dtype):
    """The forward-backward by matrix products gives the logsumexp steps'
    alphas and betas, padding included, in value and gradient."""
    inp = make_inputs(case, seed, scale, form, dtype=dtype)
    if forbidden:
        inp = _with_forbidden_parts(inp)
    leaves = [x for x in inp.values() if x is not None and x.is_floating_point()]
    for x in leaves:
        x.requires_grad_(True)
    products = build(inp)._product_walk()
    steps = build(inp)._logsumexp_walk()
    assert products is not None
    g = torch.Generator().manual_seed(seed)
    objective = []
    for got, expected, name in zip(products, steps, ("alphas", "betas")):
        assert got.dtype == dtype
        assert torch.equal(got <= -1e29, expected <= -1e29), name
        allowed = expected > -1e29
        tolerance = {"atol": 1e-4, "rtol": 1e-5} if dtype == torch.float32 else {}
        assert_close(got[allowed], expected[allowed], msg=name, **tolerance)
        weights = brute.rand_scores(g, *got.shape, scale=1.0, dtype=dtype) * allowed
        objective.append(((got - expected) * weights).sum())
    # the gradients of the product walk's outputs equal those of the steps'
    differences = torch.autograd.grad(sum(objective), leaves, allow_unused=True)
    for difference in differences:
        if difference is not None:
            assert difference.abs().max() < (1e-3 if dtype == torch.float32 else 1e-9)


SCALED_SUMS_FAIL = {
    # two very likely labels joined only by forbidden transitions: the scaled
    # sums underflow, and the factors of the counts' product would overflow
    "underflow": ([[1000.0, 0.0], [0.0, 1000.0]], [[0.0, -math.inf], [-math.inf, 0.0]]),
    # label 1 at position 2 only follows label 1, impossible at position 1
    "impossible": ([[0.5, 1.0], [2.0, -math.inf], [1.0, 0.0]], [[0.0, -math.inf], [0.3, 0.0]]),
}


@pytest.mark.parametrize("kind", sorted(SCALED_SUMS_FAIL))
def test_forward_backward_where_scaled_sums_fail(kind):
    """Where a scaled sum of the product walk falls to (near) zero, the
    forward-backward takes logsumexp steps instead, and where the factors of
    the transition counts' product would overflow, the pair marginals are
    summed: both still equal the brute force."""
    emissions, transitions = (torch.tensor(x, dtype=F64) for x in SCALED_SUMS_FAIL[kind])
    n, n_labels = emissions.shape
    inp = dict(
        emissions=emissions[None],
        transitions=transitions,
        lengths=torch.tensor([n]),
        start=None,
        end=None,
    )
    dist = build(inp)
    assert dist._product_walk() is None
    enums = enumerate_(inp)
    assert_close(dist.marginals, brute.chain_marginals(enums, n, n_labels), msg="marginals")
    expected = brute.chain_pair_marginals(enums, n, n_labels).sum(1)
    assert_close(dist.transition_counts, expected, msg="transition_counts")
