"""Gold and KD in one loss: `(1 - alpha) * gold + alpha * KD` per doc or sentence
with a teacher's targets, gold alone elsewhere; what the sequence and parser
losses share."""

from __future__ import annotations

from typing import Callable, Dict, Hashable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor


def mix_gold_and_kd(
    gold: Tensor,
    weights: Sequence[float],
    groups: Sequence[Optional[Hashable]],
    kd: Callable[[Hashable, List[int]], Tensor],
) -> Tensor:
    """Scalar: the sum over rows of `(1 - alpha) * gold + alpha * KD`.

    gold: `[B]` each row's gold loss; weights: each row's alpha (0 for a row
    without targets); groups: per row the key of the rows whose KD is computed
    together (their method, temperature, ...), None for a row without targets;
    kd(key, rows): the KD loss of the rows `rows` of group `key`, summed over
    their tokens. Rows with alpha 0 cost no KD.
    """
    alphas = torch.tensor(weights, dtype=gold.dtype, device=gold.device)
    total = ((1.0 - alphas) * gold).sum()
    rows_of: Dict[Tuple[float, Hashable], List[int]] = {}
    for row, (weight, key) in enumerate(zip(weights, groups)):
        if key is not None and weight > 0:
            rows_of.setdefault((weight, key), []).append(row)
    for (weight, key), rows in rows_of.items():
        total = total + weight * kd(key, rows)
    return total
