"""bench/cache_bytes.py: tokens and bytes per kind of array, read from the entries'
zip directories, match what the cache stored."""

import importlib.util
from pathlib import Path

import numpy
import pytest
import typer

from spacy_skd.teacher.cache import TargetCache

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("cache_bytes", ROOT / "bench" / "cache_bytes.py")
cache_bytes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cache_bytes)


def entry(n: int, hidden: bool) -> dict:
    arrays = {
        "tagger.scores": numpy.zeros((n, 3), dtype="f"),
        "tagger.labels": numpy.array(["A", "B", "C"]),
    }
    if hidden:
        arrays["hidden.-1"] = numpy.ones((n, 4), dtype="f")
    return arrays


def test_sizes_and_tokens(tmp_path):
    cache = TargetCache("f" * 64, tmp_path)
    cache.put("a", entry(5, hidden=True))
    cache.put("b", entry(7, hidden=True))
    sizes, tokens = cache_bytes.entry_sizes(cache.folder / "a.npz")
    assert tokens == 5
    # float16 data after the .npy header
    assert sizes["hidden.-1"] >= 5 * 4 * 2
    assert sizes["hidden.-1"] - sizes["tagger.scores"] == 5 * (4 - 3) * 2
    lines = cache_bytes.folder_report(cache.folder, limit=0)
    assert "2 of 2 entries, 12 tokens" in lines[2]
    kinds = {line.split(" | ")[0].strip("| ") for line in lines[6:]}
    assert kinds == {"hidden", "tagger"}
    assert "1 of 2 entries, 5 tokens" in cache_bytes.folder_report(cache.folder, limit=1)[2]


def test_tokens_without_hidden_states(tmp_path):
    cache = TargetCache("f" * 64, tmp_path)
    cache.put("a", entry(6, hidden=False))
    assert cache_bytes.entry_sizes(cache.folder / "a.npz")[1] == 6


def test_empty_cache_is_an_error(tmp_path):
    with pytest.raises(typer.BadParameter, match="no cache entries"):
        cache_bytes.main(tmp_path, limit=0)
