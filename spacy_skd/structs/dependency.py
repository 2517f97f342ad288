"""Tree CRF over dependency trees: matrix-tree (non-projective) or Eisner (projective)."""

from __future__ import annotations

from functools import cached_property

import torch
from torch import Tensor

from .arcs import ArcFactored
from .eisner import eisner, logsumexp_reduce, max_reduce
from .matrix_tree import matrix_tree_log_partition
from .mst import mst
from .utils import check_finite_result, grad_of


class DependencyCRF(ArcFactored):
    """P(tree) = exp(sum of its arc scores) / Z over well-formed dependency trees.

    arc_scores: `[B, N+1, N+1]`, `[head, dependent]`, index 0 = ROOT; lengths:
    `[B]` words. `projective=False`: all trees, Z by the matrix-tree theorem in
    float64, argmax by Chu-Liu/Edmonds. `projective=True`: trees without
    crossing arcs, Z and argmax by Eisner's algorithm. `single_root=True`:
    exactly one word attaches to ROOT.
    """

    def __init__(
        self,
        arc_scores: Tensor,
        lengths: Tensor,
        projective: bool = False,
        single_root: bool = True,
    ):
        super().__init__(arc_scores, lengths)
        self.projective = projective
        self.single_root = single_root

    def tempered(self, temperature: float) -> DependencyCRF:
        tempered = DependencyCRF(
            self.arc_scores / float(temperature), self.lengths, self.projective, self.single_root
        )
        return self._pass_known(temperature, tempered)

    def _log_partition_of(self, arc_scores: Tensor) -> Tensor:
        if self.projective:
            return eisner(arc_scores, self.lengths, self.single_root, logsumexp_reduce)
        log_z = matrix_tree_log_partition(arc_scores, self.word_mask, self.single_root)
        return log_z.to(arc_scores.dtype)

    @cached_property
    def _graph(self) -> tuple:
        """(scores, log Z) with log Z differentiable in scores: `self.arc_scores`
        itself when it requires grad, else a detached leaf, so that the marginals
        reuse the forward pass of the log partition."""
        scores = self.arc_scores
        if not (scores.requires_grad and torch.is_grad_enabled()):
            scores = scores.detach().requires_grad_()
        with torch.enable_grad():
            log_z = self._log_partition_of(scores)
        check_finite_result("log_partition", log_z)
        return scores, log_z

    @cached_property
    def log_partition(self) -> Tensor:
        """`[B]` log-sum of exp(score) over the trees."""
        scores, log_z = self._graph
        return log_z if scores is self.arc_scores else log_z.detach()

    @cached_property
    def marginals(self) -> Tensor:
        """`[B, N+1, N+1]` P(head(d) = h): the gradient of log Z (inside-outside),
        itself differentiable when the scores require grad."""
        scores, log_z = self._graph
        if scores is self.arc_scores:
            # A pass of its own: a backward through log_partition may have freed its graph.
            grad = grad_of(self._log_partition_of, scores)
        else:
            (grad,) = torch.autograd.grad(log_z, scores, torch.ones_like(log_z))
        return self._masked(grad)

    @cached_property
    def argmax(self) -> Tensor:
        """`[B, N+1]` heads of the best tree (entry 0 and padding -1)."""
        if not self.projective:
            return mst(self.arc_scores, self.lengths, self.single_root)
        arcs = grad_of(
            lambda s: eisner(s, self.lengths, self.single_root, max_reduce),
            self.arc_scores.detach(),
        )
        heads = arcs.argmax(dim=1)
        return heads.masked_fill(~self.word_mask, -1)
