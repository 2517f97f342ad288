"""Property-based fuzzing of all structs distributions (no enumeration needed).

Random batch sizes, padded lengths, label counts and score scales (float64, up
to 50): marginals are probabilities that sum correctly, pair marginals are
consistent with unary ones, and argmax structures are well formed.
"""

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacy_skd.structs import (
    DependencyCRF,
    HeadSelection,
    LinearChainCRF,
    SemiMarkovCRF,
    TokenSoftmax,
)
from tests.structs import brute
from tests.structs.brute import F64

TOL = 1e-6
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def batches(draw, max_n=6):
    B = draw(st.integers(1, 3))
    N = draw(st.integers(1, max_n))
    lengths = draw(st.lists(st.integers(1, N), min_size=B, max_size=B))
    scale = draw(st.one_of(st.sampled_from([0.0, 1.0, 3.0, 50.0]), st.floats(0.0, 50.0)))
    seed = draw(st.integers(0, 2**31 - 1))
    return B, N, lengths, scale, seed


def _in_unit_interval(x, what):
    assert torch.isfinite(x).all(), f"{what}: non-finite"
    assert (x >= -TOL).all() and (x <= 1 + TOL).all(), (
        f"{what} outside [0, 1]: {x.min()}, {x.max()}"
    )


def _close(a, b, what):
    torch.testing.assert_close(a.to(F64), b.to(F64), atol=TOL, rtol=0, msg=lambda m: f"{what}\n{m}")


def _check_tagging(dist, lengths, N, L):
    m, pm, am = dist.marginals, dist.pair_marginals, dist.argmax
    B = len(lengths)
    assert m.shape == (B, N, L) and pm.shape == (B, N - 1, L, L) and am.shape == (B, N)
    _in_unit_interval(m, "marginals")
    _in_unit_interval(pm, "pair_marginals")
    lz = dist.log_partition
    assert torch.isfinite(lz).all()
    for b, n in enumerate(lengths):
        _close(m[b, :n].sum(-1), torch.ones(n, dtype=F64), f"marginals sum to 1 (b={b})")
        _close(m[b, n:], torch.zeros(N - n, L, dtype=F64), "marginals padding")
        if n > 1:
            _close(pm[b, : n - 1].sum(-1), m[b, : n - 1], "pair.sum(next) == unary(prev)")
            _close(pm[b, : n - 1].sum(-2), m[b, 1:n], "pair.sum(prev) == unary(next)")
        _close(pm[b, n - 1 :], torch.zeros(N - n, L, L, dtype=F64), "pair padding")
        assert ((am[b, :n] >= 0) & (am[b, :n] < L)).all()
        assert (am[b, n:] == -1).all()
    lp = dist.log_prob(am)
    assert torch.isfinite(lp).all() and (lp <= TOL).all()
    ent = dist.entropy
    assert torch.isfinite(ent).all() and (ent >= -TOL).all()


@FUZZ
@given(batches(), st.integers(1, 4), st.sampled_from(["plain", "shared", "batched"]))
def test_fuzz_linear_chain(batch, L, form):
    B, N, lengths, scale, seed = batch
    g = torch.Generator().manual_seed(seed)
    em = brute.rand_scores(g, B, N, L, scale=scale)
    if form == "batched":
        tr, st_, en = (
            brute.rand_scores(g, B, L, L, scale=scale),
            brute.rand_scores(g, B, L, scale=scale),
            brute.rand_scores(g, B, L, scale=scale),
        )
    elif form == "shared":
        tr, st_, en = (
            brute.rand_scores(g, L, L, scale=scale),
            brute.rand_scores(g, L, scale=scale),
            brute.rand_scores(g, L, scale=scale),
        )
    else:
        tr, st_, en = brute.rand_scores(g, L, L, scale=scale), None, None
    dist = LinearChainCRF(em, tr, brute.as_lengths(lengths), start=st_, end=en)
    _check_tagging(dist, lengths, N, L)
    _close(dist.kl(dist), torch.zeros(B, dtype=F64), "kl(p, p)")


@FUZZ
@given(batches(), st.integers(1, 4))
def test_fuzz_token_softmax(batch, L):
    B, N, lengths, scale, seed = batch
    g = torch.Generator().manual_seed(seed)
    dist = TokenSoftmax(brute.rand_scores(g, B, N, L, scale=scale), brute.as_lengths(lengths))
    _check_tagging(dist, lengths, N, L)


def _check_arcs(dist, lengths, N, projective, single_root, tree_marginals=True):
    m, am = dist.marginals, dist.argmax
    B = len(lengths)
    assert m.shape == (B, N + 1, N + 1) and am.shape == (B, N + 1)
    _in_unit_interval(m, "arc marginals")
    assert torch.isfinite(dist.log_partition).all()
    for b, n in enumerate(lengths):
        _close(m[b, :, 1 : n + 1].sum(0), torch.ones(n, dtype=F64), f"column sums (b={b})")
        assert (m[b, :, 0] == 0).all(), "column 0 must be 0"
        assert (torch.diagonal(m[b]) == 0).all(), "diagonal must be 0"
        assert (m[b, n + 1 :] == 0).all() and (m[b, :, n + 1 :] == 0).all(), "padding must be 0"
        if not tree_marginals:
            pass  # head selection: per-word softmax, no constraint on root children
        elif single_root:
            _close(
                m[b, 0, 1 : n + 1].sum(),
                torch.tensor(1.0, dtype=F64),
                "expected #root children == 1",
            )
        else:
            assert float(m[b, 0, 1 : n + 1].sum()) >= 1 - TOL
        err = brute.check_tree(am[b].tolist(), n, projective, single_root)
        assert err is None, f"argmax batch {b}: {err}"
    lp = dist.log_prob(am)
    assert torch.isfinite(lp).all() and (lp <= TOL).all()
    assert (dist.entropy >= -TOL).all()


@FUZZ
@given(batches(max_n=7), st.booleans(), st.booleans())
def test_fuzz_dependency_crf(batch, projective, single_root):
    B, N, lengths, scale, seed = batch
    g = torch.Generator().manual_seed(seed)
    arc = brute.rand_scores(g, B, N + 1, N + 1, scale=scale)
    dist = DependencyCRF(
        arc, brute.as_lengths(lengths), projective=projective, single_root=single_root
    )
    _check_arcs(dist, lengths, N, projective, single_root)


@FUZZ
@given(batches(max_n=7))
def test_fuzz_head_selection(batch):
    B, N, lengths, scale, seed = batch
    g = torch.Generator().manual_seed(seed)
    arc = brute.rand_scores(g, B, N + 1, N + 1, scale=scale)
    dist = HeadSelection(arc, brute.as_lengths(lengths))
    _check_arcs(dist, lengths, N, projective=False, single_root=True, tree_marginals=False)


@FUZZ
@given(
    batches(), st.integers(1, 4), st.integers(1, 3), st.sampled_from(brute.SCHEMES), st.booleans()
)
def test_fuzz_semimarkov(batch, K, E, scheme, with_outside):
    B, N, lengths, scale, seed = batch
    g = torch.Generator().manual_seed(seed)
    span = brute.rand_scores(g, B, N, K, E, scale=scale)
    out = brute.rand_scores(g, B, N, scale=scale) if with_outside else None
    dist = SemiMarkovCRF(span, brute.as_lengths(lengths), outside=out, scheme=scheme)
    T = brute.num_tags(scheme, E)
    _check_tagging(dist, lengths, N, T)
    sm = dist.span_marginals
    assert sm.shape == (B, N, K, E)
    _in_unit_interval(sm, "span_marginals")
    m = dist.marginals
    for b, n in enumerate(lengths):
        cover = torch.zeros(n, dtype=F64)
        for i in range(N):
            for k in range(K):
                if i + k >= n:
                    assert (sm[b, i, k] == 0).all(), f"impossible span ({b},{i},{k}) has mass"
                else:
                    cover[i : i + k + 1] += sm[b, i, k].sum()
        # each real token is outside or covered by exactly one entity
        _close(cover + m[b, :n, 0], torch.ones(n, dtype=F64), "P(O) + P(covered) == 1")
        # tag marginals of entity starts are span marginals summed over widths
        for e in range(E):
            if scheme == "BIO":
                _close(m[b, :n, 1 + 2 * e], sm[b, :n, :, e].sum(-1), "P(B-e) == sum_k span")
            else:
                _close(m[b, :n, 4 + 4 * e], sm[b, :n, 0, e], "P(U-e) == width-1 span")
                _close(m[b, :n, 1 + 4 * e], sm[b, :n, 1:, e].sum(-1), "P(B-e) == sum_{k>=1} span")
        segs = brute.decode_tags(dist.argmax[b, :n].tolist(), scheme, E)
        assert segs is not None, f"argmax {dist.argmax[b].tolist()} not a valid {scheme} sequence"
        assert all(s[0] == "O" or s[1] <= K for s in segs), f"argmax span wider than K={K}: {segs}"
