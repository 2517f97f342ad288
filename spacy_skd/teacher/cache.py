"""The teacher-target cache: the teacher's scores per doc, float16, on disk when
given a folder and in a bounded memory (`LRU`: at most `memory_entries` entries,
the least recently used dropped first).

The disk is the source of truth: an entry dropped from memory is read back from
disk when next asked for; without a folder it is gone, and the distiller has the
teacher annotate that doc again.

On disk, every (teacher, format version) pair has its own folder named by both,
so an entry of another teacher or format is never found, let alone read. Each
entry is one `.npz` file (no pickles) named by the doc's key, written under a
temporary name and renamed into place, so a killed writer leaves no entry that
looks complete; an unreadable entry is treated as a miss and removed.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import tempfile
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Dict, Generic, Hashable, Iterable, Optional, Sequence, TypeVar

import numpy

FORMAT_VERSION = 1
# entries kept in memory unless told otherwise (docs, whatever their length)
MEMORY_ENTRIES = 10_000

Entry = Dict[str, numpy.ndarray]
Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class LRU(Generic[Key, Value]):
    """A mapping that holds at most `capacity` items: storing one more drops the
    least recently used (stored or read) first."""

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"an LRU needs a capacity of at least 1, not {capacity}")
        self.capacity = capacity
        self._items: OrderedDict[Key, Value] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        """Whether `key` is held (without counting as a use)."""
        return key in self._items

    def get(self, key: Key) -> Optional[Value]:
        """The value under `key` (now the most recently used), or None."""
        if key not in self._items:
            return None
        self._items.move_to_end(key)
        return self._items[key]

    def put(self, key: Key, value: Value) -> None:
        """Store `value` under `key` as the most recently used."""
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def setdefault(self, key: Key, make: Callable[[], Value]) -> Value:
        """The value under `key`, storing `make()` there first if there is none."""
        value = self.get(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value

    def pop(self, key: Key) -> Optional[Value]:
        """Remove and return the value under `key` (None if there is none)."""
        return self._items.pop(key, None)


def doc_key(fingerprint: str, words: Sequence[str], sent_starts: Iterable[bool]) -> str:
    """The cache key of a doc for one teacher: a hash of the teacher's fingerprint,
    the words and the sentence starts (the teacher parses the given sentences)."""
    digest = hashlib.sha256(fingerprint.encode())
    digest.update("\x1f".join(words).encode("utf8"))
    digest.update(bytes(bool(s) for s in sent_starts))
    return digest.hexdigest()


class TargetCache:
    """Entries (dicts of arrays) by key; under `directory` when given, and the
    most recently used `memory_entries` of them in memory.

    fingerprint: the teacher's hash (see `teacher.fingerprint`); directory: a
    folder to share entries across runs and processes (readers may run while
    another process writes: entries appear atomically); memory_entries: how many
    entries memory holds (without a directory, an entry dropped from memory is
    lost and must be computed again).
    """

    def __init__(
        self,
        fingerprint: str,
        directory: Optional[str | Path] = None,
        memory_entries: int = MEMORY_ENTRIES,
    ):
        self.fingerprint = fingerprint
        self._memory: LRU[str, Entry] = LRU(memory_entries)
        self.folder: Optional[Path] = None
        if directory is not None:
            self.folder = Path(directory) / f"v{FORMAT_VERSION}-{fingerprint[:32]}"
            self.folder.mkdir(parents=True, exist_ok=True)
            self._write_manifest()

    def _write_manifest(self) -> None:
        manifest = self.folder / "manifest.json"
        if not manifest.exists():
            content = {"format_version": FORMAT_VERSION, "teacher": self.fingerprint}
            atomic_write(manifest, json.dumps(content).encode("utf8"))

    def __len__(self) -> int:
        """Entries in memory (at most `memory_entries`)."""
        return len(self._memory)

    def has(self, key: str) -> bool:
        """Whether an entry for `key` exists (in memory or on disk)."""
        return key in self._memory or (self.folder is not None and self._path(key).exists())

    def forget(self, key: str) -> None:
        """Drop `key` from memory (an entry on disk stays)."""
        self._memory.pop(key)

    def get(self, key: str) -> Optional[Entry]:
        """The entry under `key` (from memory, else from disk), or None (never a
        partial entry)."""
        entry = self._memory.get(key)
        if entry is not None or self.folder is None:
            return entry
        path = self._path(key)
        if not path.exists():
            return None
        try:
            entry = read_entry(path)
        except (OSError, ValueError, zipfile.BadZipFile, EOFError):
            path.unlink(missing_ok=True)
            return None
        self._memory.put(key, entry)
        return entry

    def put(self, key: str, entry: Entry) -> None:
        """Store `entry` (its float arrays as float16) under `key`."""
        entry = {name: _compact(array) for name, array in entry.items()}
        self._memory.put(key, entry)
        if self.folder is not None:
            with tempfile.NamedTemporaryFile(
                dir=self.folder, prefix=f".{key}.", suffix=".tmp", delete=False
            ) as handle:
                numpy.savez(handle, **entry)
            os.replace(handle.name, self._path(key))

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"


def read_entry(path: Path) -> Entry:
    """The arrays of an `.npz` entry, as `numpy.load` reads them (no pickles),
    faster: a plain array's header is matched by `_PLAIN_HEADER` rather than
    parsed as Python, and its data is not copied (the arrays are read-only);
    any other member is left to numpy. The zip members' checksums are checked."""
    entry = {}
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        for member in archive.infolist():
            data = archive.read(member)
            name = member.filename.removesuffix(".npy")
            array = _plain_array(data)
            if array is None:
                array = numpy.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
            entry[name] = array
    return entry


# The header numpy writes for an array in C order of a dtype that is not an
# object or structured one: `{'descr': '<f2', 'fortran_order': False, 'shape': (3, 4), }`
_PLAIN_HEADER = re.compile(
    rb"\{'descr': '([<>|=][a-zA-Z][0-9]*)', 'fortran_order': False, 'shape': \(([0-9, ]*)\), \} *\n"
)


def _plain_array(data: bytes) -> Optional[numpy.ndarray]:
    """The array an `.npy` file's bytes hold, or None unless its header is plain."""
    if data[:6] != b"\x93NUMPY" or data[6] not in (1, 2, 3):
        return None
    length_bytes = 2 if data[6] == 1 else 4
    start = 8 + length_bytes
    header_end = start + int.from_bytes(data[8:start], "little")
    match = _PLAIN_HEADER.fullmatch(data, start, header_end)
    if match is None:
        return None
    dtype = numpy.dtype(match.group(1).decode("ascii"))
    if dtype.hasobject:
        return None
    shape = tuple(int(size) for size in match.group(2).split(b",") if size.strip())
    count = math.prod(shape)
    return numpy.frombuffer(data, dtype, count=count, offset=header_end).reshape(shape)


def _compact(array: numpy.ndarray) -> numpy.ndarray:
    array = numpy.asarray(array)
    return array.astype("float16") if array.dtype.kind == "f" else array


def atomic_write(path: Path, content: bytes) -> None:
    """Write `content` to `path` under a temporary name, then rename it into place
    (readers never see a partial file); makes the parent folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
        handle.write(content)
    os.replace(handle.name, path)
