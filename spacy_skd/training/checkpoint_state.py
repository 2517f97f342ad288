"""What a checkpoint keeps besides the weights, so that a resumed run continues
as the interrupted one would have: the optimizer's state (Adam's moments, the
update counts, parameter averages), the number of updates done and the numpy
and torch random generators (dropout). It is written into every `model-last` as
`skd_training_state.msgpack` and removed when the run finishes.

thinc's optimizers key their state by (node id, parameter name), and node ids
differ between processes, so the state is saved under each node's place in its
pipe's model tree (pipe name, index in `model.walk()`) and mapped back on
loading. The optimizer a training loop builds is reached through
`spacy-skd.checkpointed_optimizer.v1`, which `train_pipeline` wraps around the
config's own; the skipping batcher replays the batches already trained on, so
the readers, the batch-size schedule and the shuffles continue where they were.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import numpy
import srsly
from spacy.language import Language
from spacy.util import registry
from thinc.api import Optimizer
from thinc.backends import get_array_ops

from ..random_state import random_states, set_random_states

STATE_FILE = "skd_training_state.msgpack"
_OPTIMIZERS: Dict[str, Optimizer] = {}
_SLOTS = ("mom1", "mom2", "averages")


@registry.optimizers("spacy-skd.checkpointed_optimizer.v1")
def create_checkpointed_optimizer(optimizer: Optimizer, run: str) -> Optimizer:
    """The config's optimizer `optimizer` itself, recorded as the one of run
    `run` so that its checkpoints can save and restore its state."""
    _OPTIMIZERS[run] = optimizer
    return optimizer


@registry.batchers("spacy-skd.skipping_batcher.v1")
def create_skipping_batcher(
    batcher: Callable[[Iterable[Any]], Iterable[List[Any]]], skip: int = 0
) -> Callable[[Iterable[Any]], Iterator[List[Any]]]:
    """The config's batcher `batcher`, its first `skip` batches (counted over
    every pass it makes) dropped: a resumed run's are the ones already trained on."""
    left = [skip]

    def batch(items: Iterable[Any]) -> Iterator[List[Any]]:
        for batch in batcher(items):
            if left[0] > 0:
                left[0] -= 1
                continue
            yield batch

    return batch


@registry.misc("spacy-skd.state_saves.v1")
def create_state_saves(
    run: str, then: Optional[Callable[[Language], Language]] = None
) -> Callable[[Language], Language]:
    """A `[training.before_to_disk]` callback: every save of the pipeline also
    writes run `run`'s training state into the saved folder (before the config's
    own callback `then`, so an atomic save covers both)."""

    def before_to_disk(nlp: Language) -> Language:
        if not getattr(nlp, "_skd_state_saves", False):
            save = nlp.to_disk

            def to_disk(path, *, exclude=()):
                save(path, exclude=exclude)
                optimizer = optimizer_of(run)
                if optimizer is not None:
                    write_state(nlp, optimizer, Path(path) / STATE_FILE)

            nlp.to_disk = to_disk
            nlp._skd_state_saves = True
        return then(nlp) if then is not None else nlp

    return before_to_disk


def optimizer_of(run: str) -> Optional[Optimizer]:
    """The optimizer of run `run`'s current training loop, or None."""
    return _OPTIMIZERS.get(run)


def forget(run: str) -> None:
    """Drop the record of run `run`'s optimizer (its training has ended)."""
    _OPTIMIZERS.pop(run, None)


def updates_done(optimizer: Optimizer) -> int:
    """How many updates `optimizer` has made (its most updated parameter's count)."""
    return max(optimizer.nr_update.values(), default=0)


def write_state(nlp: Language, optimizer: Optimizer, path: Path) -> None:
    """Write `optimizer`'s state for `nlp`'s pipes and the random generators' to
    `path` (through a temporary file)."""
    places = _places(nlp)
    params = []
    for key, count in optimizer.nr_update.items():
        place = places.get(key[0])
        if place is None:
            continue
        entry: Dict[str, Any] = {"pipe": place[0], "node": place[1], "name": key[1], "n": count}
        for slot in _SLOTS:
            store = getattr(optimizer, slot, None)
            if store is not None and key in store:
                entry[slot] = _host(store[key])
        params.append(entry)
    state = {"updates": updates_done(optimizer), "params": params, "random": random_states()}
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(srsly.msgpack_dumps(state))
    os.replace(partial, path)


def read_updates(path: Path) -> Optional[int]:
    """The number of updates recorded in the state file `path`, or None."""
    state = _read(path)
    return None if state is None else int(state["updates"])


def restore_state(nlp: Language, optimizer: Optimizer, path: Path) -> None:
    """Load the state saved at `path` into `optimizer` (for `nlp`'s pipes), step
    its schedules on by the updates done and restore the random generators."""
    state = _read(path)
    if state is None:
        return
    nodes = _nodes(nlp)
    for entry in state["params"]:
        node = nodes.get((entry["pipe"], entry["node"]))
        if node is None or not node.has_param(entry["name"]):
            continue
        key = (node.id, entry["name"])
        size = node.get_param(entry["name"]).size
        if any(slot in entry and entry[slot].size != size for slot in ("mom1", "mom2")):
            continue
        optimizer.nr_update[key] = entry["n"]
        for slot in _SLOTS:
            store = getattr(optimizer, slot, None)
            if store is not None and slot in entry:
                store[key] = node.ops.asarray(entry[slot])
    for _ in range(int(state["updates"])):
        optimizer.step_schedules()
    set_random_states(state["random"])


def _read(path: Path) -> Optional[Dict[str, Any]]:
    try:
        return srsly.msgpack_loads(Path(path).read_bytes())
    except (OSError, ValueError):
        return None


def _places(nlp: Language) -> Dict[int, Tuple[str, int]]:
    """Node id -> (pipe name, index in the pipe model's walk); a node shared by
    several pipes keeps its first place."""
    places: Dict[int, Tuple[str, int]] = {}
    for (pipe, index), node in _nodes(nlp).items():
        places.setdefault(node.id, (pipe, index))
    return places


def _nodes(nlp: Language) -> Dict[Tuple[str, int], Any]:
    nodes = {}
    for name, proc in nlp.pipeline:
        model = getattr(proc, "model", None)
        if model in (None, True, False) or not hasattr(model, "walk"):
            continue
        for index, node in enumerate(model.walk()):
            nodes[(name, index)] = node
    return nodes


def _host(array: Any) -> numpy.ndarray:
    return numpy.asarray(get_array_ops(array).to_numpy(array))
