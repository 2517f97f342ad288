"""Partition function of non-projective dependency trees (matrix-tree theorem).

Z is the determinant of the graph Laplacian (Koo et al. 2007). It is computed by
Gaussian elimination in the form of Grassmann, Taksar and Heyman (GTH): the
Schur complement of a Laplacian is again a Laplacian, so every pivot is a sum
of non-negative weights and nothing cancels. A plain LU determinant (slogdet)
loses all precision when the best heads form a cycle, so that every tree must
use a weak arc and Z is tiny next to the Laplacian's entries.

The weights are laid out `[B, n+1, n]`, `[head, dependent]` with head 0 = ROOT
and dependents the words 1..n. The words are eliminated from the last to the
first: word d's pivot sums its column over the heads still present (ROOT and
words 1..d-1), and the paths through d are folded into those heads' arcs into
words 1..d-1 with one broadcast multiply-add, ROOT's row included. Each sentence
takes part only up to its last word (the batch is sorted by that extent, so a
step works on the sentences still long enough), and the adjoint (marginals) is a
second sweep with two row-vector products a step.
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


def _taking_part(extents: Tensor, n_words: int) -> list:
    """`counts[d]`: how many sentences have a word d (extent >= d), for d = 0..n_words."""
    steps = torch.arange(n_words + 1, device=extents.device)
    return (extents[None, :] >= steps[:, None]).sum(1).tolist()


def _eliminate(factors: Tensor, counts: list) -> Tensor:
    """`[n, B]` pivots of the words of `factors [B, n+1, n]` (contiguous, sorted by
    extent, longest first), eliminated in place: afterwards column d-1 holds word
    d's incoming weights (rows 0..d-1) and row d its onward weights over its pivot
    (columns 0..d-2). Pivots of words past a sentence's extent are 1."""
    n_words = factors.shape[2]
    pivots = factors.new_ones(n_words, factors.shape[0])
    words_apart = pivots.stride(0)
    # Each step's views in one as_strided call apiece: at these sizes building
    # views by indexing costs about as much as the arithmetic.
    batch, row, col = factors.stride()
    for d in range(n_words, 0, -1):
        active = counts[d]
        incoming = factors.as_strided((active, d, 1), (batch, row, col), (d - 1) * col)
        pivot = pivots.as_strided((active, 1, 1), (1, 1, 1), (d - 1) * words_apart)
        torch.sum(incoming, dim=1, keepdim=True, out=pivot)
        onward = factors.as_strided((active, 1, d - 1), (batch, row, col), d * row)
        onward.div_(pivot)
        factors.as_strided((active, d, d - 1), (batch, row, col)).addcmul_(incoming, onward)
    return pivots


def _adjoint(factors: Tensor, pivots: Tensor, grad: Tensor, counts: list) -> Tensor:
    """`[B, n+1, n]` gradient of `grad [B] . log det` with respect to the weights,
    from `_eliminate`'s factors and pivots, sweeping the words first to last.

    Step d's gradient T of the weights it updated (rows 0..d-1, columns 0..d-2)
    is final once the steps of words 1..d-1 are done. With u = incoming / pivot
    and o = onward / pivot (so sum(u) = 1): the onward row's gradient is u^T T;
    the incoming column's is T o + grad / pivot - u^T T o."""
    n_words = factors.shape[2]
    # Word d's u is row d-1 of this: contiguous, as bmm's fast batched path wants.
    scaled_incoming = factors.new_empty(factors.shape[0], n_words, n_words + 1)
    torch.div(factors.mT, pivots.T[:, :, None], out=scaled_incoming)
    grad_over_pivot = grad / pivots
    words_apart = grad_over_pivot.stride(0)
    grads = torch.zeros_like(factors)
    batch, row, col = grads.stride()
    scaled_batch, scaled_row, _ = scaled_incoming.stride()
    for d in range(1, n_words + 1):
        active = counts[d]
        if not active:
            break
        later = grads.as_strided((active, d, d - 1), (batch, row, col))
        u = scaled_incoming.as_strided((active, 1, d), (scaled_batch, 1, 1), (d - 1) * scaled_row)
        onward = factors.as_strided((active, 1, d - 1), (batch, row, col), d * row)
        through_onward = torch.bmm(u, later)
        grads.as_strided((active, 1, d - 1), (batch, row, col), d * row).copy_(through_onward)
        via_pivot = grad_over_pivot.as_strided((active, 1, 1), (1, 1, 1), (d - 1) * words_apart)
        via_pivot = torch.baddbmm(via_pivot, through_onward, onward.mT, alpha=-1)
        through_incoming = torch.baddbmm(via_pivot, onward, later.mT)
        grads.as_strided((active, 1, d), (batch, col, row), (d - 1) * col).copy_(through_incoming)
    return grads


def _gth_differentiable(weights: Tensor, extents: Tensor) -> Tensor:
    """`gth_log_det` in plain autograd operations (differentiable to any order):
    each step drops the eliminated word's row and column."""
    log_det = weights.new_zeros(weights.shape[0])
    # The word's own entry (row d, column d-1) is never read, so the cycles
    # j -> k -> j the folding puts there are harmless.
    for d in range(weights.shape[2], 0, -1):
        takes_part = extents >= d
        incoming = weights[:, :d, d - 1]
        pivot = torch.where(takes_part, incoming.sum(1), 1.0)
        log_det = log_det + pivot.log()
        onward = weights[:, d, : d - 1] * (takes_part / pivot)[:, None]
        weights = weights[:, :d, : d - 1] + incoming[:, :, None] * onward[:, None, :]
    return log_det


class _GTHLogDet(torch.autograd.Function):
    """`gth_log_det` by the in-place elimination, with the hand-written adjoint
    as its backward (itself differentiable, see `_GTHGradient`)."""

    @staticmethod
    def forward(ctx, weights: Tensor, extents: Tensor) -> Tensor:
        order = extents.argsort(descending=True)
        counts = _taking_part(extents, weights.shape[2])
        factors = weights[order].contiguous()
        pivots = _eliminate(factors, counts)
        ctx.save_for_backward(weights, extents)
        ctx.sweep = (factors, pivots, order, counts)
        log_det = torch.empty_like(pivots[0])
        log_det[order] = pivots.log().sum(0)
        return log_det

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple:
        weights, extents = ctx.saved_tensors
        return _GTHGradient.apply(weights, extents, grad, *ctx.sweep), None


class _GTHGradient(torch.autograd.Function):
    """`grad [B]` times the gradient of `gth_log_det` from the factors of the
    forward pass. Its own gradient (second order, e.g. through marginals) runs
    autograd through `_gth_differentiable`, recomputed only when asked for."""

    @staticmethod
    def forward(ctx, weights, extents, grad, factors, pivots, order, counts) -> Tensor:
        ctx.save_for_backward(weights, extents, grad)
        sorted_grads = _adjoint(factors, pivots, grad[order], counts)
        grads = torch.empty_like(sorted_grads)
        grads[order] = sorted_grads
        return grads

    @staticmethod
    def backward(ctx, grad_grads: Tensor) -> tuple:
        saved_weights, extents, saved_grad = ctx.saved_tensors
        create_graph = torch.is_grad_enabled()
        with torch.enable_grad():
            # Inside a graph that is itself differentiated, keep the saved inputs
            # (so the result is differentiable further); otherwise fresh leaves.
            weights, grad = (
                x if create_graph and x.requires_grad else x.detach().requires_grad_()
                for x in (saved_weights, saved_grad)
            )
            (grads,) = torch.autograd.grad(
                _gth_differentiable(weights, extents), weights, grad, create_graph=True
            )
            grad_weights, grad_grad = torch.autograd.grad(
                grads, (weights, grad), grad_grads, create_graph=create_graph
            )
        return grad_weights, None, grad_grad, None, None, None, None


def gth_log_det(weights: Tensor, extents: Tensor, double_differentiable: bool = False) -> Tensor:
    """`[B]` log det of the words' Laplacian L: `L[d, d]` the sum of the weights
    into word d (ROOT's included, its own entry not), `L[h, d]` minus the weight
    of h -> d between words.

    weights: `[B, n+1, n]` non-negative arc weights `[head, dependent]`, head 0 =
    ROOT, dependents the words 1..n (a word's own entry is ignored); extents:
    `[B]` the last word of each sentence (words past it and their weights are
    ignored). The elimination removes one word at a time; its pivot (the sum of
    its incoming weights from the heads left) is the factor it contributes to Z,
    and the paths through it are folded into the remaining weights. The gradient
    comes from a hand-written adjoint, itself differentiable; with
    `double_differentiable` autograd runs through the elimination instead (slow:
    what the adjoint's own gradient runs through, and the reference it is checked
    against).
    """
    if double_differentiable:
        return _gth_differentiable(weights, extents)
    return _GTHLogDet.apply(weights, extents)


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
    tree has one head per word), so every weight lies in [0, 1]. The result is
    differentiable to any order (see `gth_log_det` for `double_differentiable`).

    Single root: with the root weights scaled by a tiny lambda, Z(lambda) =
    lambda Z_1 + lambda^2 Z_2 + ... (Z_k: trees with k root children), and
    Z_k / Z_1 <= (n e^R)^(k-1) for R the widest range of scores into one word, so
    Z(lambda) / lambda is Z_1 within a relative e^-50 once
    lambda = e^-(R + log n + 50).
    """
    scores = arc_scores.double()
    shift = scores.max(dim=1, keepdim=True).values.detach()
    shifted = scores - shift
    words = word_mask[:, 1:]
    log_z = (shift[:, 0, 1:] * words).sum(-1)
    # The bound on Z_k / Z_1 holds for the shifted scores too (the shift scales
    # every tree alike), so R is the widest column's range, not the whole matrix's.
    allowed = (scores > FORBIDDEN) & word_mask[:, None, :]
    spread = shifted.detach().masked_fill(~allowed, 0.0).amin(dim=(1, 2)).neg()
    if (spread > MAX_SPREAD).any():
        raise ValueError(
            f"arc_scores into one word span a range of {float(spread.max()):.0f}, beyond "
            f"the {MAX_SPREAD:.0f} the matrix-tree computation holds in float64; scale "
            "them down"
        )
    weights = shifted[:, :, 1:].exp()
    # What each weight is multiplied by: 1 for the arcs from ROOT and the words into
    # the words, lambda for ROOT's in the single-root case, 0 for padding.
    heads = torch.cat([torch.ones_like(word_mask[:, :1]), words], dim=1)
    factor = (heads[:, :, None] & words[:, None, :]).double()
    if single_root:
        log_lambda = -(spread + words.sum(-1).double().log() + SINGLE_ROOT_MARGIN)
        factor[:, 0] *= log_lambda.exp()[:, None]
        root = weights[:, 0].detach()
        if ((root * factor[:, 0] == 0) & (root > 0) & words).any():
            raise ValueError(
                "arc_scores span too wide a range for the single-root partition "
                "function in float64; scale the scores down"
            )
        log_z = log_z - log_lambda
    # Padding words: no arcs, root weight 1, so each contributes a pivot of 1.
    padding_root = torch.zeros_like(factor)
    padding_root[:, 0] = ~words
    laplacian_weights = torch.addcmul(padding_root, weights, factor)
    positions = torch.arange(1, words.shape[1] + 1, device=words.device)
    extents = (positions * words).amax(1)
    return log_z + gth_log_det(laplacian_weights, extents, double_differentiable)
