"""Small Thinc layers of the parser and configs: distance buckets and scores, the
label scorer's direction features, the input scale."""

import numpy
import pytest

from spacy_skd.models.distance import MAGNITUDES, N_BUCKETS, bucket_one_hot, distance_scorer


def bucket_of(h: int, d: int) -> int:
    if h == 0:
        return 0
    magnitude = next((k for k, top in enumerate(MAGNITUDES) if abs(h - d) <= top), len(MAGNITUDES))
    return 1 + magnitude + (len(MAGNITUDES) + 1) * (h > d)


def test_buckets_separate_root_sides_and_distances():
    one_hot = bucket_one_hot(40)
    assert one_hot.shape == (40, 40, N_BUCKETS)
    assert (one_hot.sum(-1) == 1).all()
    buckets = one_hot.argmax(-1)
    for h in range(40):
        for d in range(1, 40):
            assert buckets[h, d] == bucket_of(h, d)
    assert len({buckets[0, 5], buckets[4, 5], buckets[6, 5], buckets[3, 5], buckets[39, 5]}) == 5


def test_distance_scorer_matches_its_definition_and_finite_differences():
    rng = numpy.random.default_rng(0)
    heads = rng.normal(size=(2, 6, 3))
    deps = rng.normal(size=(2, 6, 3))
    model = distance_scorer(nI=3)
    model.initialize()
    params = {
        name: rng.normal(size=model.get_param(name).shape) for name in ("W_head", "W_dep", "b")
    }
    for name, value in params.items():
        model.set_param(name, value)
    scores, backprop = model.begin_update((heads, deps))
    for b, h, d in [(0, 0, 3), (1, 5, 1), (1, 2, 4), (0, 1, 5)]:
        k = bucket_of(h, d)
        expected = (heads[b, h] @ params["W_head"] + deps[b, d] @ params["W_dep"] + params["b"])[k]
        assert scores[b, h, d] == pytest.approx(expected)

    weights = rng.normal(size=scores.shape)
    d_heads, d_deps = backprop(weights)
    grads = {name: model.get_grad(name).copy() for name in params}

    def loss(inputs):
        for name in params:
            model.set_param(name, inputs[name])
        return float((model.predict((inputs["heads"], inputs["deps"])) * weights).sum())

    values = {"heads": heads, "deps": deps, **params}
    analytic = {"heads": d_heads, "deps": d_deps, **grads}
    eps = 1e-6
    for name, value in values.items():
        for index in list(numpy.ndindex(value.shape))[:: max(1, value.size // 7)]:
            plus, minus = value.copy(), value.copy()
            plus[index] += eps
            minus[index] -= eps
            numeric = (loss({**values, name: plus}) - loss({**values, name: minus})) / (2 * eps)
            assert analytic[name][index] == pytest.approx(numeric, rel=1e-5, abs=1e-6), name


def test_label_scorer_sees_the_arc_direction_only_with_distance():
    from spacy_skd.models.parser import pair_label_scorer

    rng = numpy.random.default_rng(0)
    vectors = numpy.ones((1, 4, 3), dtype="f")
    # Identical vectors everywhere: word 1's head lies to its right, word 2's to its left.
    head_index = numpy.array([[0, 3, 1, 2]])
    scores = {}
    for distance in (False, True):
        model = pair_label_scorer(nO=2, distance=distance)
        model.initialize(X=(vectors, vectors, head_index))
        W = model.layers[0].get_param("W")
        model.layers[0].set_param("W", rng.normal(size=W.shape).astype("f"))
        scores[distance], backprop = model.begin_update((vectors, vectors, head_index))
        d_heads, d_deps = backprop(numpy.ones_like(scores[distance]))
        assert d_heads.shape == d_deps.shape == vectors.shape
    assert numpy.allclose(scores[False][0, 1], scores[False][0, 2])
    assert not numpy.allclose(scores[True][0, 1], scores[True][0, 2])


def test_label_scorer_skips_pairs_without_a_head():
    # A head index < 0 (ROOT's own row, padding) is no pair: its scores and the
    # gradients it sends are 0, and the other pairs score as they would alone.
    from spacy_skd.models.parser import pair_label_scorer

    rng = numpy.random.default_rng(1)
    heads = rng.normal(size=(2, 4, 3)).astype("f")
    deps = rng.normal(size=(2, 4, 3)).astype("f")
    full = numpy.array([[0, 3, 1, 2], [0, 2, 0, 1]])
    partial = full.copy()
    partial[:, 0] = -1
    partial[1, 3] = -1
    model = pair_label_scorer(nO=2, distance=True)
    model.initialize(X=(heads, deps, full))
    W = model.layers[0].get_param("W")
    model.layers[0].set_param("W", rng.normal(size=W.shape).astype("f"))
    expected, backprop_full = model.begin_update((heads, deps, full))
    scores, backprop = model.begin_update((heads, deps, partial))
    real = partial >= 0
    numpy.testing.assert_allclose(scores[real], expected[real], rtol=1e-6)
    assert not scores[~real].any()
    d_scores = rng.normal(size=scores.shape).astype("f")
    d_heads, d_deps = backprop(d_scores)
    expected_heads, expected_deps = backprop_full(d_scores * real[..., None])
    numpy.testing.assert_allclose(d_heads, expected_heads, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(d_deps, expected_deps, rtol=1e-5, atol=1e-6)
    assert not d_heads[~real].any() and not d_deps[~real].any()


def test_scale_multiplies_forward_and_backward():
    from spacy_skd.models.scale import scale

    layer = scale(10.0)
    X = [numpy.ones((2, 3), dtype="f"), numpy.full((1, 3), 2.0, dtype="f")]
    Y, backprop = layer.begin_update(X)
    assert [y.tolist() for y in Y] == [[[10.0] * 3] * 2, [[20.0] * 3]]
    dX = backprop([numpy.ones_like(x) for x in X])
    assert all((d == 10.0).all() for d in dX)
    with pytest.raises(ValueError, match="factor"):
        scale(0.0)
