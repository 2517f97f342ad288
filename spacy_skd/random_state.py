"""The random generators a training run draws from (Python's, numpy's, torch's):
their states read and set as plain data, and a block that leaves them as it
found them."""

from __future__ import annotations

import random
from contextlib import contextmanager
from typing import Any, Dict, Iterator

import numpy


def random_states() -> Dict[str, Any]:
    """The states of Python's, numpy's and torch's generators, as msgpack-able data."""
    import torch

    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = numpy.random.get_state()
    return {
        "python": [version, list(internal), gauss],
        "numpy": [kind, keys, int(position), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state().numpy(),
    }


def set_random_states(states: Dict[str, Any]) -> None:
    """Set the generators to `states` (from `random_states`)."""
    import torch

    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, position, has_gauss, cached = states["numpy"]
    keys = numpy.asarray(keys, dtype=numpy.uint32)
    numpy.random.set_state((kind, keys, position, has_gauss, cached))
    torch.set_rng_state(torch.from_numpy(numpy.array(states["torch"], dtype=numpy.uint8)))


@contextmanager
def kept_random_states() -> Iterator[None]:
    """Run the block, then set the generators back to their states before it."""
    states = random_states()
    try:
        yield
    finally:
        set_random_states(states)
