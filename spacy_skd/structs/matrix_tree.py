"""Partition function of non-projective dependency trees (matrix-tree theorem).

Z is the determinant of the graph Laplacian (Koo et al. 2007). It is computed by
Gaussian elimination in the form of Grassmann, Taksar and Heyman (GTH): the
Schur complement of a Laplacian is again a Laplacian, so every pivot is a sum
of non-negative weights and nothing cancels. A plain LU determinant (slogdet)
loses all precision when the best heads form a cycle, so that every tree must
use a weak arc and Z is tiny next to the Laplacian's entries.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .utils import NEG

# Scores below this are forbidden arcs (NEG, possibly divided by a temperature).
FORBIDDEN = NEG * 1e-10
# log of the bound on the relative error of the single-root partition function.
SINGLE_ROOT_MARGIN = 50.0
# Past this score range an arc weight exp(-range) nears float64's underflow.
MAX_SPREAD = 600.0


def _gth_differentiable(weights: Tensor, root: Tensor) -> Tensor:
    """The elimination in plain autograd operations (differentiable twice):
    each step drops the eliminated word's row and column."""
    log_det = weights.new_zeros(weights.shape[0])
    # The diagonal is never read (pivots sum the rows below it, `onward` the
    # columns after it), so the cycles j -> k -> j the folding puts there are harmless.
    while weights.shape[1]:
        incoming = weights[:, 1:, 0]
        pivot = root[:, 0] + incoming.sum(dim=1)
        log_det = log_det + pivot.log()
        onward = weights[:, 0, 1:] / pivot[:, None]
        weights = weights[:, 1:, 1:] + incoming[:, :, None] * onward[:, None, :]
        root = root[:, 1:] + root[:, 0, None] * onward
    return log_det


class _GTHLogDet(torch.autograd.Function):
    """`gth_log_det` with a hand-written adjoint. Outside autograd both sweeps
    work in place on one matrix: step k updates only the block below and right
    of word k, so the vectors a step keeps (column k, word k's root weight) are
    never overwritten later."""

    @staticmethod
    def forward(ctx, weights: Tensor, root: Tensor) -> Tensor:
        weights, root = weights.clone(), root.clone()
        log_det = weights.new_zeros(weights.shape[0])
        steps = []
        for k in range(weights.shape[1]):
            incoming = weights[:, k + 1 :, k]
            pivot = root[:, k] + incoming.sum(dim=1)
            log_det += pivot.log()
            onward = weights[:, k, k + 1 :] / pivot[:, None]
            weights[:, k + 1 :, k + 1 :].baddbmm_(incoming[:, :, None], onward[:, None, :])
            root[:, k + 1 :] += root[:, k, None] * onward
            steps.append((incoming, onward, pivot, root[:, k]))
        ctx.steps = steps
        return log_det

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple:
        n_words = len(ctx.steps)
        grad_weights = grad.new_zeros(grad.shape[0], n_words, n_words)
        grad_root = grad.new_zeros(grad.shape[0], n_words)
        for k in range(n_words - 1, -1, -1):
            incoming, onward, pivot, root_weight = ctx.steps[k]
            later_weights = grad_weights[:, k + 1 :, k + 1 :]
            later_root = grad_root[:, k + 1 :]
            # block' = block + incoming x onward; root' = root[k+1:] + root_k onward
            grad_incoming = torch.bmm(later_weights, onward[:, :, None]).squeeze(-1)
            grad_onward = torch.bmm(incoming[:, None, :], later_weights).squeeze(1)
            grad_onward += later_root * root_weight[:, None]
            # onward = weights[k, k+1:] / pivot; log_det += log pivot
            grad_pivot = (grad - (grad_onward * onward).sum(-1)) / pivot
            # pivot = root_k + sum(incoming)
            grad_weights[:, k, k + 1 :] = grad_onward / pivot[:, None]
            grad_weights[:, k + 1 :, k] = grad_incoming + grad_pivot[:, None]
            grad_root[:, k] = (later_root * onward).sum(-1) + grad_pivot
        return grad_weights, grad_root


def gth_log_det(weights: Tensor, root: Tensor, double_differentiable: bool = False) -> Tensor:
    """`[B]` log det of the Laplacian `diag(root + column sums of weights) - weights`.

    weights: `[B, n, n]` non-negative arc weights `[head, dependent]` between the
    words (the diagonal is ignored); root: `[B, n]` non-negative root-arc
    weights. The elimination removes one word at a time; its pivot (its root
    weight plus its incoming weights) is the factor it contributes to Z, and the
    paths through it are folded into the remaining weights. The gradient comes
    from a hand-written adjoint (first order only) unless `double_differentiable`,
    which backpropagates through the loop itself (slower; for marginals that must
    be differentiable).
    """
    if double_differentiable:
        return _gth_differentiable(weights, root)
    return _GTHLogDet.apply(weights, root)


def matrix_tree_log_partition(
    arc_scores: Tensor,
    word_mask: Tensor,
    single_root: bool,
    double_differentiable: bool = False,
) -> Tensor:
    """`[B]` log-sum over all non-projective trees, in float64.

    arc_scores: `[B, N+1, N+1]` `[head, dependent]`, invalid arcs at NEG;
    word_mask: `[B, N+1]`, True for words 1..n. Each dependent's column is
    shifted by its best score first (log Z shifts by the same sum, since every
    tree has one head per word), so every weight lies in [0, 1].

    Single root: with the root weights scaled by a tiny lambda, Z(lambda) =
    lambda Z_1 + lambda^2 Z_2 + ... (Z_k: trees with k root children), and
    Z_k / Z_1 <= (n e^R)^(k-1) for R the widest range of scores into one word, so
    Z(lambda) / lambda is Z_1 within a relative e^-50 once
    lambda = e^-(R + log n + 50).
    """
    scores = arc_scores.double()
    shift = scores.max(dim=1, keepdim=True).values.detach()
    weights = (scores - shift).exp()
    words = word_mask[:, 1:]
    # Padding words: no arcs, root weight 1, so each contributes a pivot of 1.
    root = torch.where(words, weights[:, 0, 1:], torch.ones_like(weights[:, 0, 1:]))
    between = weights[:, 1:, 1:] * (words[:, :, None] & words[:, None, :])
    log_z = (shift[:, 0, 1:] * words).sum(-1)
    # The bound on Z_k / Z_1 holds for the shifted scores too (the shift scales
    # every tree alike), so R is the widest column's range, not the whole matrix's.
    allowed = (scores > FORBIDDEN) & word_mask[:, None, :]
    spread = (scores - shift).masked_fill(~allowed, 0.0).amin(dim=(1, 2)).neg().detach()
    if (spread > MAX_SPREAD).any():
        raise ValueError(
            f"arc_scores into one word span a range of {float(spread.max()):.0f}, beyond "
            f"the {MAX_SPREAD:.0f} the matrix-tree computation holds in float64; scale "
            "them down"
        )
    if single_root:
        log_lambda = -(spread + words.sum(-1).double().log() + SINGLE_ROOT_MARGIN)
        scaled = weights[:, 0, 1:] * log_lambda.exp()[:, None]
        if ((scaled == 0) & (weights[:, 0, 1:] > 0) & words).any():
            raise ValueError(
                "arc_scores span too wide a range for the single-root partition "
                "function in float64; scale the scores down"
            )
        root = torch.where(words, scaled, root)
        log_z = log_z - log_lambda
    return log_z + gth_log_det(between, root, double_differentiable)
