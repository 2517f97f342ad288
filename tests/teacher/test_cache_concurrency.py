"""Processes sharing one cache folder: writers racing on the same keys and a
reader polling them meanwhile; every read is a miss or a whole entry."""

import multiprocessing

import numpy

from spacy_skd.teacher.cache import TargetCache

KEYS = [f"{i:064x}" for i in range(40)]
SIZE = 20_000


def entry(value: float) -> dict:
    return {"scores": numpy.full((SIZE,), value, dtype="float32"), "n": numpy.array([SIZE])}


def write(folder: str, value: float) -> None:
    cache = TargetCache("teacher", folder)
    for _ in range(3):
        for key in KEYS:
            cache.put(key, entry(value))
            cache.forget(key)


def read(folder: str, done, results) -> None:
    """Poll every key until the writers are done, then once more."""
    seen = []
    finished = False
    while not finished:
        finished = done.is_set()
        cache = TargetCache("teacher", folder)
        for key in KEYS:
            found = cache.get(key)
            if found is not None:
                values = set(numpy.unique(found["scores"]).tolist())
                seen.append((len(found["scores"]), tuple(sorted(values))))
    results.put(seen)


def test_concurrent_writers_and_a_reader_never_see_a_partial_entry(tmp_path):
    context = multiprocessing.get_context("spawn")
    results, done = context.Queue(), context.Event()
    folder = str(tmp_path)
    writers = [context.Process(target=write, args=(folder, v)) for v in (1.0, 2.0)]
    reader = context.Process(target=read, args=(folder, done, results))
    for worker in [reader, *writers]:
        worker.start()
    for writer in writers:
        writer.join(timeout=120)
        assert writer.exitcode == 0
    done.set()
    seen = results.get(timeout=120)
    reader.join(timeout=120)
    assert reader.exitcode == 0
    assert seen, "the reader found no entry at all"
    assert set(seen) <= {(SIZE, (1.0,)), (SIZE, (2.0,))}
    final = TargetCache("teacher", folder)
    assert all(final.get(key) is not None for key in KEYS)
