"""The teacher-target cache: the teacher's scores per doc, float16, in memory and
optionally on disk (INTERFACES.md section 4).

On disk, every (teacher, format version) pair has its own folder named by both,
so an entry of another teacher or format is never found, let alone read. Each
entry is one `.npz` file (no pickles) named by the doc's key, written under a
temporary name and renamed into place, so a killed writer leaves no entry that
looks complete; an unreadable entry is treated as a miss and removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence

import numpy

FORMAT_VERSION = 1

Entry = Dict[str, numpy.ndarray]


def doc_key(fingerprint: str, words: Sequence[str], sent_starts: Iterable[bool]) -> str:
    """The cache key of a doc for one teacher: a hash of the teacher's fingerprint,
    the words and the sentence starts (the teacher parses the given sentences)."""
    digest = hashlib.sha256(fingerprint.encode())
    digest.update("\x1f".join(words).encode("utf8"))
    digest.update(bytes(bool(s) for s in sent_starts))
    return digest.hexdigest()


class TargetCache:
    """Entries (dicts of arrays) by key; in memory, and under `directory` when given.

    fingerprint: the teacher's hash (see `teacher.fingerprint`); directory: a
    folder to share entries across runs and processes (readers may run while
    another process writes: entries appear atomically).
    """

    def __init__(self, fingerprint: str, directory: Optional[str | Path] = None):
        self.fingerprint = fingerprint
        self._memory: Dict[str, Entry] = {}
        self.folder: Optional[Path] = None
        if directory is not None:
            self.folder = Path(directory) / f"v{FORMAT_VERSION}-{fingerprint[:32]}"
            self.folder.mkdir(parents=True, exist_ok=True)
            self._write_manifest()

    def _write_manifest(self) -> None:
        manifest = self.folder / "manifest.json"
        if not manifest.exists():
            content = {"format_version": FORMAT_VERSION, "teacher": self.fingerprint}
            _atomic_write(manifest, json.dumps(content).encode("utf8"))

    def __len__(self) -> int:
        return len(self._memory)

    def has(self, key: str) -> bool:
        """Whether an entry for `key` exists (in memory or on disk)."""
        return key in self._memory or (self.folder is not None and self._path(key).exists())

    def forget(self, key: str) -> None:
        """Drop `key` from memory (an entry on disk stays)."""
        self._memory.pop(key, None)

    def get(self, key: str) -> Optional[Entry]:
        """The entry under `key`, or None (never a partial entry)."""
        entry = self._memory.get(key)
        if entry is not None or self.folder is None:
            return entry
        path = self._path(key)
        if not path.exists():
            return None
        try:
            with numpy.load(path, allow_pickle=False) as stored:
                entry = {name: stored[name] for name in stored.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError):
            path.unlink(missing_ok=True)
            return None
        self._memory[key] = entry
        return entry

    def put(self, key: str, entry: Entry) -> None:
        """Store `entry` (its float arrays as float16) under `key`."""
        entry = {name: _compact(array) for name, array in entry.items()}
        self._memory[key] = entry
        if self.folder is not None:
            with tempfile.NamedTemporaryFile(
                dir=self.folder, prefix=f".{key}.", suffix=".tmp", delete=False
            ) as handle:
                numpy.savez(handle, **entry)
            os.replace(handle.name, self._path(key))

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"


def _compact(array: numpy.ndarray) -> numpy.ndarray:
    array = numpy.asarray(array)
    return array.astype("float16") if array.dtype.kind == "f" else array


def _atomic_write(path: Path, content: bytes) -> None:
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
        handle.write(content)
    os.replace(handle.name, path)
