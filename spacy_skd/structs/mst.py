"""Maximum spanning arborescence (Chu-Liu/Edmonds) for non-projective decoding."""

from __future__ import annotations

from typing import Optional

import numpy
import torch
from torch import Tensor

from .matrix_tree import FORBIDDEN


def _find_cycle(heads: numpy.ndarray) -> Optional[list]:
    """A cycle in the head graph (`heads[0]` is ignored), or None."""
    n_nodes = len(heads)
    state = numpy.zeros(n_nodes, dtype=numpy.int8)  # 0 unseen, 1 on current path, 2 done
    state[0] = 2
    for first in range(1, n_nodes):
        path = []
        node = first
        while state[node] == 0:
            state[node] = 1
            path.append(node)
            node = heads[node]
        if state[node] == 1:
            return path[path.index(node) :]
        state[path] = 2
    return None


def chu_liu_edmonds(scores: numpy.ndarray) -> numpy.ndarray:
    """Heads `[n+1]` (entry 0 = -1) of the highest-scoring arborescence rooted at
    node 0, for `scores[h, d]` of shape `[n+1, n+1]` (float64; the diagonal and
    column 0 are ignored). Any number of words may attach to the root."""
    scores = scores.copy()
    numpy.fill_diagonal(scores, -numpy.inf)
    scores[:, 0] = -numpy.inf
    return _contract(scores)


def _contract(scores: numpy.ndarray) -> numpy.ndarray:
    """`chu_liu_edmonds` on scores whose diagonal and column 0 are already -inf
    (the contracted graphs keep that, so they are not prepared again)."""
    heads = scores.argmax(axis=0)
    heads[0] = -1
    cycle = _find_cycle(heads)
    if cycle is None:
        return heads
    in_cycle = numpy.zeros(len(heads), dtype=bool)
    in_cycle[cycle] = True
    others = numpy.flatnonzero(~in_cycle)  # others[0] == 0: the root stays node 0
    cycle = numpy.array(cycle)
    cycle_heads = heads[cycle]
    kept = scores[cycle_heads, cycle]
    # Entering the cycle at v replaces v's cycle arc: gain s(u, v) - s(head(v), v).
    entering = scores[others[:, None], cycle] - kept[None, :]
    leaving = scores[cycle[:, None], others]
    n_others = len(others)
    contracted = numpy.empty((n_others + 1, n_others + 1))
    contracted[:n_others, :n_others] = scores[others[:, None], others]
    contracted[:n_others, n_others] = entering.max(axis=1)
    contracted[n_others, :n_others] = leaving.max(axis=0)
    contracted[n_others, n_others] = -numpy.inf
    sub_heads = _contract(contracted)
    result = heads.copy()
    result[cycle] = cycle_heads
    # Words outside the cycle: a head outside it, or the cycle node's best member.
    sub = sub_heads[1:n_others]
    from_cycle = cycle[leaving[:, 1:].argmax(axis=0)]
    outside = others[sub.clip(max=n_others - 1)]
    result[others[1:]] = numpy.where(sub == n_others, from_cycle, outside)
    entry_from = sub_heads[n_others]
    result[cycle[entering[entry_from].argmax()]] = others[entry_from]
    return result


def mst(arc_scores: Tensor, lengths: Tensor, single_root: bool = True) -> Tensor:
    """Heads `[B, N+1]` (entry 0 and padding -1) of the maximum spanning tree of
    each sentence, for `arc_scores [B, N+1, N+1]` indexed `[head, dependent]`.

    With `single_root`, exactly one word attaches to ROOT. When the best tree
    overall already has one root child it is also the best single-root tree;
    otherwise every root arc is lowered by a constant larger than any two trees'
    score difference, so the MST takes as few root arcs as it can (one) and,
    among those trees, the best.
    """
    scores = arc_scores.detach().cpu().numpy()
    heads = numpy.full(scores.shape[:2], -1, dtype=numpy.int64)
    for b, n in enumerate(lengths.tolist()):
        # float64 per sentence: the padded batch is several times larger
        sent = scores[b, : n + 1, : n + 1].astype(numpy.float64)
        best = chu_liu_edmonds(sent)
        if single_root and (best[1:] == 0).sum() > 1:
            allowed = sent[sent > FORBIDDEN]
            spread = allowed.max() - allowed.min() if allowed.size else 0.0
            penalised = sent.copy()
            penalised[0, 1:] -= 1.0 + 2.0 * n * spread
            best = chu_liu_edmonds(penalised)
        heads[b, : n + 1] = best
    return torch.from_numpy(heads).to(arc_scores.device)
