"""Input checks and small tensor helpers shared by the structured distributions."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


def check_scores(name: str, scores: Tensor, ndim: int) -> None:
    """Raise a ValueError naming `name` unless `scores` is a floating tensor of
    `ndim` dimensions with no NaN and no +inf (-inf is allowed: it forbids a part)."""
    if not isinstance(scores, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(scores).__name__}")
    if not scores.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {scores.dtype}")
    if scores.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(scores.shape)}")
    if torch.isnan(scores).any():
        raise ValueError(f"{name} contains NaN")
    if torch.isposinf(scores).any():
        raise ValueError(f"{name} contains +inf")


def check_lengths(lengths: Tensor, batch_size: int, max_len: int) -> Tensor:
    """Validate `lengths [B]` (1 <= n <= max_len) and return it as int64."""
    if not isinstance(lengths, Tensor):
        raise ValueError(f"lengths must be a torch.Tensor, got {type(lengths).__name__}")
    if lengths.dim() != 1 or lengths.shape[0] != batch_size:
        raise ValueError(f"lengths must have shape [{batch_size}], got {tuple(lengths.shape)}")
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise ValueError(f"lengths must be an integer tensor, got {lengths.dtype}")
    if batch_size and (lengths.min() < 1 or lengths.max() > max_len):
        raise ValueError(
            f"lengths must lie in [1, {max_len}], got min {int(lengths.min())} "
            f"and max {int(lengths.max())}"
        )
    return lengths.long()


def broadcast_param(name: str, param: Optional[Tensor], shape: tuple, like: Tensor) -> Tensor:
    """Check an optional per-label or per-label-pair parameter and expand it to
    `shape` (its leading batch dimension optional); None becomes zeros."""
    if param is None:
        return like.new_zeros(shape)
    check_scores(name, param, param.dim())
    if tuple(param.shape) not in (shape, shape[1:]):
        raise ValueError(f"{name} must have shape {shape[1:]} or {shape}, got {tuple(param.shape)}")
    return param.to(like.dtype).expand(shape)


def check_finite_result(name: str, value: Tensor) -> Tensor:
    """Refuse a non-finite log partition: it means every structure was excluded
    (-inf scores) or the scores overflow the dtype."""
    if not torch.isfinite(value).all():
        raise ValueError(
            f"{name} is not finite: the scores exclude every structure or overflow "
            f"{value.dtype}; scale the scores down or pass float64"
        )
    return value


def sequence_mask(lengths: Tensor, max_len: int) -> Tensor:
    """`[B, max_len]` bool, True at real positions."""
    return torch.arange(max_len, device=lengths.device) < lengths[:, None]


def check_labels(name: str, labels: Tensor, shape: tuple, n_labels: int, mask: Tensor) -> Tensor:
    """Check an integer structure tensor (tags or heads) of `shape` whose entries
    under `mask` lie in [0, n_labels); return it as int64 with 0 outside the mask."""
    if not isinstance(labels, Tensor) or labels.is_floating_point():
        raise ValueError(f"{name} must be an integer torch.Tensor")
    if tuple(labels.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {tuple(labels.shape)}")
    labels = labels.long().to(mask.device)
    real = labels[mask]
    if real.numel() and (real.min() < 0 or real.max() >= n_labels):
        raise ValueError(f"{name} must lie in [0, {n_labels}) at real positions")
    return labels.masked_fill(~mask, 0)


# Stands in for -inf inside the dynamic programmes: exp(NEG - x) underflows to
# exactly 0 for any real score x, yet NEG - NEG is 0 rather than NaN, so a
# forbidden part never turns a gradient into NaN.
NEG = -1e30


def clamp_neg(scores: Tensor) -> Tensor:
    """Replace -inf (a forbidden part) by the finite stand-in NEG."""
    return scores.clamp(min=NEG)


def weighted_sum(weights: Tensor, scores: Tensor, dims: tuple) -> Tensor:
    """`sum(weights * scores)` over `dims`, with 0 * NEG counted as 0."""
    return torch.where(weights == 0, weights.new_zeros(()), weights * scores).sum(dims)


def grad_of(log_partition_fn, scores: Tensor) -> Tensor:
    """Gradient of `log_partition_fn(scores).sum()` with respect to `scores`: the
    marginals of the sub-structures `scores` holds. Differentiable itself when
    `scores` requires grad (and grad mode is on), a constant otherwise."""
    differentiable = scores.requires_grad and torch.is_grad_enabled()
    with torch.enable_grad():
        leaf = scores if differentiable else scores.detach().requires_grad_()
        (grad,) = torch.autograd.grad(
            log_partition_fn(leaf).sum(), leaf, create_graph=differentiable
        )
    return grad
