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


def read(folder: str, results) -> None:
    seen = []
    for _ in range(30):
        cache = TargetCache("teacher", folder)
        for key in KEYS:
            found = cache.get(key)
            if found is not None:
                values = set(numpy.unique(found["scores"]).tolist())
                seen.append((len(found["scores"]), tuple(sorted(values))))
    results.put(seen)


def test_concurrent_writers_and_a_reader_never_see_a_partial_entry(tmp_path):
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    folder = str(tmp_path)
    workers = [context.Process(target=write, args=(folder, v)) for v in (1.0, 2.0)]
    workers.append(context.Process(target=read, args=(folder, results)))
    for worker in workers:
        worker.start()
    seen = results.get(timeout=120)
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    assert seen, "the reader found no entry at all"
    assert set(seen) <= {(SIZE, (1.0,)), (SIZE, (2.0,))}
    final = TargetCache("teacher", folder)
    assert all(final.get(key) is not None for key in KEYS)
