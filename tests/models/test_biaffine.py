import numpy

from spacy_skd.models.biaffine import biaffine


def test_biaffine_matches_its_definition_and_finite_differences():
    rng = numpy.random.default_rng(0)
    heads = rng.normal(size=(2, 3, 4))
    deps = rng.normal(size=(2, 3, 4))
    model = biaffine(nO=2, nI=4)
    model.initialize()
    model.set_param("W", rng.normal(size=(2, 5, 5)))
    scores, backprop = model.begin_update((heads, deps))
    ones = numpy.ones((2, 3, 1))
    h1, d1 = numpy.concatenate([heads, ones], -1), numpy.concatenate([deps, ones], -1)
    for b, i, j, o in [(0, 0, 1, 0), (1, 2, 0, 1), (1, 1, 1, 0)]:
        expected = h1[b, i] @ model.get_param("W")[o] @ d1[b, j]
        assert numpy.isclose(scores[b, i, j, o], expected)

    weights = rng.normal(size=scores.shape)
    d_heads, d_deps = backprop(weights)
    grad_W = model.get_grad("W").copy()

    def loss(h, d, W):
        model.set_param("W", W)
        return float((model.predict((h, d)) * weights).sum())

    W0 = model.get_param("W").copy()
    eps = 1e-6
    for array, grad, index in [
        (heads, d_heads, (0, 1, 2)),
        (deps, d_deps, (1, 0, 3)),
        (W0, grad_W, (1, 4, 2)),
    ]:
        plus, minus = array.copy(), array.copy()
        plus[index] += eps
        minus[index] -= eps
        args = {"h": heads, "d": deps, "W": W0}
        name = "h" if array is heads else "d" if array is deps else "W"
        numeric = (loss(**{**args, name: plus}) - loss(**{**args, name: minus})) / (2 * eps)
        assert numpy.isclose(grad[index], numeric, rtol=1e-5, atol=1e-6), name
