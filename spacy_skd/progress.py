"""Progress bars for long commands: shown on a terminal, quiet otherwise."""

import sys
from typing import Iterable, Iterator, Optional, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def progress_bar(
    total: Optional[int] = None,
    desc: str = "",
    unit: str = "doc",
    quiet: bool = False,
) -> tqdm:
    """A tqdm bar on stderr, disabled with `quiet` or when stderr is not a terminal.
    Advance it with `bar.update(n)` and close it (or use it as a context manager)."""
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=quiet or not sys.stderr.isatty(),
        dynamic_ncols=True,
    )


def counted(items: Iterable[T], bar: tqdm) -> Iterator[T]:
    """`items`, advancing `bar` by one as each is produced."""
    for item in items:
        bar.update()
        yield item
