"""`spacy-skd.atomic_saves.v1`: a `[training.before_to_disk]` callback that makes
spaCy's checkpoints of `model-last` atomic. spaCy's training loop writes
`model-last` in place, file by file, so a run killed while it saves leaves a
half-written pipeline that `spacy.load` cannot open. With this callback each
save is written into a hidden sibling folder and then swapped in by two renames:
a run killed at any point leaves `model-last` complete (the last save or the one
before) or, between the two renames, absent, never half-written.

spaCy copies `model-last` to `model-best` after the save; that copy is spaCy's and
stays as it is (a kill during it leaves `model-best` incomplete until the next best
checkpoint).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

from spacy.language import Language
from spacy.util import registry

ATOMIC = "_skd_atomic_saves"


def save_atomically(save: Callable[..., None], path: str | Path, **kwargs) -> None:
    """Run `save(folder, **kwargs)` into a fresh hidden sibling of `path`, then
    put that folder at `path` (the previous one is removed after the swap)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.parent / f".{path.name}.partial-{os.getpid()}"
    previous = path.parent / f".{path.name}.previous-{os.getpid()}"
    for leftover in (partial, previous):
        if leftover.exists():
            shutil.rmtree(leftover)
    save(partial, **kwargs)
    if path.exists():
        path.rename(previous)
    partial.rename(path)
    if previous.exists():
        shutil.rmtree(previous)


@registry.misc("spacy-skd.atomic_saves.v1")
def create_atomic_saves() -> Callable[[Language], Language]:
    """The callback: returns the pipeline itself (nothing is removed or copied),
    its `to_disk` writing atomically from then on."""

    def before_to_disk(nlp: Language) -> Language:
        if not getattr(nlp, ATOMIC, False):
            save = nlp.to_disk

            def to_disk(path, *, exclude=()):
                save_atomically(save, path, exclude=exclude)

            nlp.to_disk = to_disk
            setattr(nlp, ATOMIC, True)
        return nlp

    return before_to_disk
