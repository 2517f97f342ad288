"""Invalid inputs raise ValueError naming the offending argument."""

import pytest
import torch

from spacy_skd.structs import (
    DependencyCRF,
    HeadSelection,
    LinearChainCRF,
    SemiMarkovCRF,
    TokenSoftmax,
)

F64 = torch.float64
NAN = float("nan")


def _z(*shape):
    return torch.zeros(*shape, dtype=F64)


def _lens(*xs):
    return torch.tensor(xs, dtype=torch.long)


def _nan_at(x, idx):
    x = x.clone()
    x[idx] = NAN
    return x


# --------------------------------------------------------------------------
# LinearChainCRF: emissions [2, 3, 4], transitions [4, 4]
# --------------------------------------------------------------------------
CRF_BAD = {
    "lengths-zero": (lambda: LinearChainCRF(_z(2, 3, 4), _z(4, 4), _lens(3, 0)), "lengths"),
    "lengths-negative": (lambda: LinearChainCRF(_z(2, 3, 4), _z(4, 4), _lens(-1, 2)), "lengths"),
    "lengths-too-long": (lambda: LinearChainCRF(_z(2, 3, 4), _z(4, 4), _lens(3, 4)), "lengths"),
    "lengths-batch": (lambda: LinearChainCRF(_z(2, 3, 4), _z(4, 4), _lens(3, 2, 1)), "lengths"),
    "emissions-ndim": (lambda: LinearChainCRF(_z(3, 4), _z(4, 4), _lens(3)), "emissions"),
    "emissions-nan": (
        lambda: LinearChainCRF(_nan_at(_z(2, 3, 4), (0, 1, 2)), _z(4, 4), _lens(3, 2)),
        "emissions",
    ),
    "transitions-shape": (
        lambda: LinearChainCRF(_z(2, 3, 4), _z(3, 3), _lens(3, 2)),
        "transitions",
    ),
    "transitions-batch": (
        lambda: LinearChainCRF(_z(2, 3, 4), _z(3, 4, 4), _lens(3, 2)),
        "transitions",
    ),
    "transitions-nonsquare": (
        lambda: LinearChainCRF(_z(2, 3, 4), _z(4, 5), _lens(3, 2)),
        "transitions",
    ),
    "transitions-nan": (
        lambda: LinearChainCRF(_z(2, 3, 4), _nan_at(_z(4, 4), (1, 1)), _lens(3, 2)),
        "transitions",
    ),
    "start-shape": (
        lambda: LinearChainCRF(_z(2, 3, 4), _z(4, 4), _lens(3, 2), start=_z(3)),
        "start",
    ),
    "start-nan": (
        lambda: LinearChainCRF(_z(2, 3, 4), _z(4, 4), _lens(3, 2), start=_nan_at(_z(4), 0)),
        "start",
    ),
    "end-shape": (lambda: LinearChainCRF(_z(2, 3, 4), _z(4, 4), _lens(3, 2), end=_z(3, 4)), "end"),
    "end-nan": (
        lambda: LinearChainCRF(_z(2, 3, 4), _z(4, 4), _lens(3, 2), end=_nan_at(_z(2, 4), (1, 3))),
        "end",
    ),
}

SOFTMAX_BAD = {
    "lengths-zero": (lambda: TokenSoftmax(_z(2, 3, 4), _lens(0, 1)), "lengths"),
    "lengths-too-long": (lambda: TokenSoftmax(_z(2, 3, 4), _lens(4, 1)), "lengths"),
    "lengths-batch": (lambda: TokenSoftmax(_z(2, 3, 4), _lens(3)), "lengths"),
    "logits-ndim": (lambda: TokenSoftmax(_z(2, 3), _lens(3, 3)), "logits"),
    "logits-nan": (lambda: TokenSoftmax(_nan_at(_z(2, 3, 4), (1, 0, 0)), _lens(3, 1)), "logits"),
}


def _dep_cases(cls):
    return {
        "lengths-zero": (lambda: cls(_z(2, 4, 4), _lens(3, 0)), "lengths"),
        "lengths-too-long": (lambda: cls(_z(2, 4, 4), _lens(4, 1)), "lengths"),
        "lengths-batch": (lambda: cls(_z(2, 4, 4), _lens(3, 2, 1)), "lengths"),
        "arc_scores-nonsquare": (lambda: cls(_z(2, 4, 5), _lens(3, 2)), "arc_scores"),
        "arc_scores-ndim": (lambda: cls(_z(4, 4), _lens(3)), "arc_scores"),
        "arc_scores-nan": (lambda: cls(_nan_at(_z(2, 4, 4), (0, 0, 1)), _lens(3, 2)), "arc_scores"),
    }


def _sm_cases():
    S = SemiMarkovCRF
    return {
        "lengths-zero": (lambda: S(_z(2, 3, 2, 2), _lens(3, 0)), "lengths"),
        "lengths-too-long": (lambda: S(_z(2, 3, 2, 2), _lens(4, 1)), "lengths"),
        "lengths-batch": (lambda: S(_z(2, 3, 2, 2), _lens(3)), "lengths"),
        "span_scores-ndim": (lambda: S(_z(2, 3, 2), _lens(3, 1)), "span_scores"),
        "span_scores-nan": (
            lambda: S(_nan_at(_z(2, 3, 2, 2), (1, 0, 0, 1)), _lens(3, 1)),
            "span_scores",
        ),
        "outside-shape": (lambda: S(_z(2, 3, 2, 2), _lens(3, 1), outside=_z(2, 4)), "outside"),
        "outside-batch": (lambda: S(_z(2, 3, 2, 2), _lens(3, 1), outside=_z(3, 3)), "outside"),
        "outside-nan": (
            lambda: S(_z(2, 3, 2, 2), _lens(3, 1), outside=_nan_at(_z(2, 3), (0, 2))),
            "outside",
        ),
        "scheme": (lambda: S(_z(2, 3, 2, 2), _lens(3, 1), scheme="IOBES-typo"), "scheme"),
    }


ALL = (
    [pytest.param(f, m, id=f"LinearChainCRF-{k}") for k, (f, m) in CRF_BAD.items()]
    + [pytest.param(f, m, id=f"TokenSoftmax-{k}") for k, (f, m) in SOFTMAX_BAD.items()]
    + [
        pytest.param(f, m, id=f"DependencyCRF-{k}")
        for k, (f, m) in _dep_cases(DependencyCRF).items()
    ]
    + [
        pytest.param(f, m, id=f"HeadSelection-{k}")
        for k, (f, m) in _dep_cases(HeadSelection).items()
    ]
    + [pytest.param(f, m, id=f"SemiMarkovCRF-{k}") for k, (f, m) in _sm_cases().items()]
)


@pytest.mark.parametrize("make,name", ALL)
def test_invalid_input_raises_value_error_naming_argument(make, name):
    with pytest.raises(ValueError, match=name):
        make()


@pytest.mark.parametrize("proj", [False, True])
@pytest.mark.parametrize("sr", [False, True])
def test_dependency_nan_in_each_config(proj, sr):
    arc = _nan_at(_z(1, 4, 4), (0, 2, 3))
    with pytest.raises(ValueError, match="arc_scores"):
        DependencyCRF(arc, _lens(3), projective=proj, single_root=sr)


def test_valid_inputs_do_not_raise():
    LinearChainCRF(_z(2, 3, 4), _z(4, 4), _lens(3, 1))
    LinearChainCRF(_z(2, 3, 4), _z(2, 4, 4), _lens(3, 1), start=_z(4), end=_z(2, 4))
    TokenSoftmax(_z(2, 3, 4), _lens(1, 3))
    DependencyCRF(_z(2, 4, 4), _lens(3, 1))
    HeadSelection(_z(2, 4, 4), _lens(3, 1))
    SemiMarkovCRF(_z(2, 3, 2, 2), _lens(3, 1), outside=_z(2, 3), scheme="BILUO")
