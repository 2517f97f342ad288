"""The teacher's derived values (marginals) kept across epochs: the targets of a
doc carry a memo dict, and a loss that needs what the teacher's forward-backward
gives reads it from there after the first epoch."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import torch

from ..structs import StructuredDistribution


def recall_derived(
    teacher: StructuredDistribution,
    memos: List[Optional[Dict]],
    sizes: Sequence[int],
    n_pad: int,
    names: Sequence[str],
    temperature: float,
    padded: Dict[str, int],
) -> None:
    """Give `teacher` (built from the scores of the docs or sentences whose memo
    dicts are `memos`) the values of its properties `names` at `temperature`
    from those memos, computing them for the whole batch when one lacks them (in
    practice: the first epoch) and keeping each row's share; nothing is kept
    when a row has no memo (None).

    sizes: each row's real extent along its padded dimensions, `n_pad` the
    teacher's (N for sequences, N+1 for arcs); padded: per name, how many
    leading dimensions after the batch are padded (sequence marginals
    `[B, N, L]`: 1, arc marginals `[B, N+1, N+1]`: 2, transition counts: 0).
    """
    if not names or any(memo is None for memo in memos):
        return
    keys = [(temperature, name) for name in names]
    if not all(key in memo for memo in memos for key in keys):
        view = teacher.tempered(temperature) if temperature != 1.0 else teacher
        with torch.no_grad():
            values = {name: getattr(view, name).detach() for name in names}
        for row, (memo, size) in enumerate(zip(memos, sizes)):
            for name, value in values.items():
                share = value[row][(slice(size),) * padded[name]]
                memo[(temperature, name)] = share.clone()  # not a view of the batch
    given = {}
    for name in names:
        rows = [memo[(temperature, name)] for memo in memos]
        dims = padded[name]
        batch = rows[0].new_full((len(rows), *(n_pad,) * dims, *rows[0].shape[dims:]), 0.0)
        for row, (value, size) in enumerate(zip(rows, sizes)):
            batch[row][(slice(size),) * dims] = value
        given[name] = batch
    teacher.knowing(temperature, **given)
