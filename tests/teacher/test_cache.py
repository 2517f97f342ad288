"""TargetCache: float16 round trips, one folder per teacher and format, atomic
entries, corrupt entries read as misses."""

import numpy
import pytest

from spacy_skd.teacher.cache import FORMAT_VERSION, TargetCache, doc_key, read_entry


def entry(seed=0):
    rng = numpy.random.default_rng(seed)
    return {"tagger.scores": rng.normal(size=(5, 3)) * 20, "parser.heads": numpy.arange(5)}


def test_entries_round_trip_in_float16_within_tolerance(tmp_path):
    cache = TargetCache("a" * 64, tmp_path)
    original = entry()
    cache.put("k", original)
    fresh = TargetCache("a" * 64, tmp_path).get("k")
    assert fresh["tagger.scores"].dtype == numpy.float16
    numpy.testing.assert_allclose(fresh["tagger.scores"], original["tagger.scores"], rtol=1e-3)
    numpy.testing.assert_array_equal(fresh["parser.heads"], original["parser.heads"])


def test_another_teacher_or_format_never_sees_the_entries(tmp_path):
    TargetCache("a" * 64, tmp_path).put("k", entry())
    assert TargetCache("b" * 64, tmp_path).get("k") is None
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert folders == [f"v{FORMAT_VERSION}-" + "a" * 32, f"v{FORMAT_VERSION}-" + "b" * 32]


def test_partial_and_corrupt_entries_are_misses(tmp_path):
    cache = TargetCache("a" * 64, tmp_path)
    cache.put("good", entry())
    folder = cache.folder
    # A writer killed before its rename leaves only a temporary file.
    (folder / ".half.123.tmp").write_bytes(b"PK\x03\x04partial")
    (folder / "bad.npz").write_bytes(b"PK\x03\x04truncated")
    fresh = TargetCache("a" * 64, tmp_path)
    assert fresh.get("half") is None
    assert fresh.get("bad") is None and not (folder / "bad.npz").exists()
    assert fresh.get("good") is not None


def test_entries_read_as_numpy_loads_them(tmp_path):
    """`read_entry` gives what `numpy.load` gives, for every kind of array an
    entry holds and for those whose headers it leaves to numpy (Fortran order,
    a structured dtype); object arrays are refused as numpy refuses them."""
    rng = numpy.random.default_rng(0)
    arrays = {
        "scores": rng.normal(size=(7, 3)).astype("float16"),
        "heads": numpy.arange(7, dtype="int32"),
        "labels": numpy.asarray(["B-PER", "O"], dtype="U"),
        "objective": numpy.asarray("crf"),
        "empty": numpy.zeros((0, 0), dtype="float16"),
        "big_endian": numpy.arange(4, dtype=">f4").reshape(2, 2),
        "fortran": numpy.asfortranarray(rng.normal(size=(3, 2))),
        "structured": numpy.zeros(2, dtype=[("a", "i4"), ("b", "f2")]),
    }
    path = tmp_path / "entry.npz"
    numpy.savez(path, **arrays)
    read = read_entry(path)
    with numpy.load(path, allow_pickle=False) as stored:
        assert sorted(read) == sorted(stored.files)
        for name in stored.files:
            assert read[name].dtype == stored[name].dtype, name
            numpy.testing.assert_array_equal(read[name], stored[name], err_msg=name)
    numpy.savez(path, objects=numpy.asarray([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        read_entry(path)


def test_doc_keys_depend_on_teacher_words_and_sentences():
    base = doc_key("t", ["a", "b"], [True, False])
    assert base == doc_key("t", ["a", "b"], [True, False])
    assert base != doc_key("u", ["a", "b"], [True, False])
    assert base != doc_key("t", ["a", "c"], [True, False])
    assert base != doc_key("t", ["a", "b"], [True, True])
    assert doc_key("t", ["ab"], [True]) != doc_key("t", ["a", "b"], [True, False])


@pytest.mark.parametrize("memory_only", [True, False])
def test_missing_keys_are_none(tmp_path, memory_only):
    cache = TargetCache("a" * 64, None if memory_only else tmp_path)
    assert cache.get("nothing") is None
