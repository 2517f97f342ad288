"""Partition function of non-projective dependency trees (matrix-tree theorem)."""

from __future__ import annotations

import torch
from torch import Tensor


def matrix_tree_log_partition(arc_scores: Tensor, word_mask: Tensor, single_root: bool) -> Tensor:
    """`[B]` log-sum over all non-projective trees (Koo et al. 2007), in float64.

    arc_scores: `[B, N+1, N+1]` `[head, dependent]`, invalid arcs at a very
    negative finite value; word_mask: `[B, N+1]`, True for words 1..n.
    Each dependent's column is shifted by its best score first: every tree has
    one head per word, so log Z shifts by the same sum, and the Laplacian's
    entries stay in [0, 1], which keeps the determinant well conditioned.
    """
    scores = arc_scores.double()
    shift = scores.max(dim=1, keepdim=True).values.detach()
    weights = (scores - shift).exp()
    root = weights[:, 0, 1:]
    between = weights[:, 1:, 1:]
    words = word_mask[:, 1:]
    in_degree = between.sum(dim=1)
    if single_root:
        laplacian = torch.diag_embed(in_degree) - between
        # Koo et al.: the first word's row holds the root weights instead.
        laplacian = torch.cat([root[:, None, :], laplacian[:, 1:]], dim=1)
    else:
        laplacian = torch.diag_embed(in_degree + root) - between
    # Padding rows and columns become an identity block: det is unchanged.
    padding = ~words
    laplacian = laplacian.masked_fill(padding[:, :, None] | padding[:, None, :], 0.0)
    laplacian = laplacian + torch.diag_embed(padding.double())
    sign, log_det = torch.linalg.slogdet(laplacian)
    log_z = log_det + (shift[:, 0, 1:] * words).sum(-1)
    return torch.where(sign > 0, log_z, torch.full_like(log_z, float("nan")))
