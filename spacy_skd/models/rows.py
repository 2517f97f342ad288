"""Hash-embedding rows that follow the tok2vec's width, registered for configs, so
one setting (`encode.width`) sizes a whole student."""

from __future__ import annotations

from typing import List, Sequence


def scaled_rows(width: int, rows: Sequence[int], base_width: int) -> List[int]:
    """`rows` (one count per attribute, sized for a tok2vec of `base_width`) times
    width / base_width, rounded to hundreds (at least 100). The tables' parameters
    then grow as width squared, as the encoder's do, and keep their share of the
    model; more rows also mean fewer hash collisions.

    width: the tok2vec's width.
    rows: the rows per attribute at `base_width`.
    base_width: the width `rows` were chosen for.
    """
    if width <= 0 or base_width <= 0:
        raise ValueError(f"widths must be > 0, got width {width}, base_width {base_width}")
    if not rows or any(count <= 0 for count in rows):
        raise ValueError(f"rows must be counts > 0, got {list(rows)}")
    return [max(100, int(round(count * width / base_width, -2))) for count in rows]
