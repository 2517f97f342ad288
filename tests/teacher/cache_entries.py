"""The entries a cache folder holds on disk, and comparing two such sets."""

import numpy


def entries(cache_dir):
    """{key: {name: array}} of every entry under `cache_dir`."""
    found = {}
    for path in cache_dir.glob("v*/*.npz"):
        with numpy.load(path) as stored:
            found[path.stem] = {name: stored[name] for name in stored.files}
    return found


def assert_same_entries(found, expected, tolerance=1e-3):
    """The same keys and arrays; floats (float16 on disk) within `tolerance`."""
    assert found.keys() == expected.keys()
    for key, entry in expected.items():
        assert found[key].keys() == entry.keys()
        for name, array in entry.items():
            if array.dtype.kind == "f":
                numpy.testing.assert_allclose(
                    found[key][name], array, rtol=tolerance, atol=tolerance
                )
            else:
                numpy.testing.assert_array_equal(found[key][name], array)
