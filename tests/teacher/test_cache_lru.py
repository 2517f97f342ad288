"""The bounded memory of the target cache: an LRU that holds at most its capacity,
dropping the least recently used first; entries dropped from memory come back
equal from disk, and are gone (None) without a folder."""

import numpy
import pytest

from spacy_skd.teacher.cache import LRU, TargetCache


def test_the_least_recently_used_item_goes_first():
    lru = LRU(3)
    for key in "abc":
        lru.put(key, key.upper())
    assert lru.get("a") == "A"  # a is now the most recently used
    lru.put("d", "D")
    assert "b" not in lru and len(lru) == 3
    lru.put("c", "C2")  # storing counts as a use too
    lru.put("e", "E")
    assert "a" not in lru and [lru.get(k) for k in "cde"] == ["C2", "D", "E"]


def test_setdefault_and_pop():
    lru = LRU(2)
    made = lru.setdefault("a", list)
    made.append(1)
    assert lru.setdefault("a", list) == [1]
    assert lru.pop("a") == [1] and lru.pop("a") is None and len(lru) == 0


def test_a_capacity_below_one_is_refused():
    with pytest.raises(ValueError, match="capacity of at least 1"):
        LRU(0)


def entry(seed):
    rng = numpy.random.default_rng(seed)
    return {"tagger.scores": rng.normal(size=(4, 3)), "parser.heads": rng.integers(0, 4, size=4)}


def test_the_cap_holds_and_dropped_entries_come_back_equal_from_disk(tmp_path):
    cache = TargetCache("a" * 64, tmp_path, memory_entries=3)
    stored = {}
    for i in range(10):
        cache.put(f"k{i}", entry(i))
        stored[f"k{i}"] = {name: a.copy() for name, a in cache.get(f"k{i}").items()}
        assert len(cache) <= 3
    assert len(cache) == 3
    for key in reversed(list(stored)):
        again = cache.get(key)
        assert again.keys() == stored[key].keys()
        for name, array in again.items():
            assert array.dtype == stored[key][name].dtype
            numpy.testing.assert_array_equal(array, stored[key][name])
        assert len(cache) <= 3


def test_without_a_folder_a_dropped_entry_is_gone():
    cache = TargetCache("a" * 64, None, memory_entries=2)
    for i in range(3):
        cache.put(f"k{i}", entry(i))
    assert cache.get("k0") is None and not cache.has("k0")
    assert cache.get("k2") is not None and len(cache) == 2
