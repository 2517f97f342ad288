import pytest
from spacy.util import registry

from spacy_skd.models import scaled_rows


def test_rows_keep_the_base_at_its_width():
    assert scaled_rows(96, [5000, 1000, 2500, 2500], 96) == [5000, 1000, 2500, 2500]


def test_rows_grow_with_the_width_in_hundreds():
    assert scaled_rows(128, [5000, 1000, 2500, 2500], 96) == [6700, 1300, 3300, 3300]
    assert scaled_rows(256, [5000, 1000], 256) == [5000, 1000]
    # never below a hundred rows, however narrow
    assert scaled_rows(8, [5000, 200], 96) == [400, 100]


def test_registered_for_configs():
    assert registry.misc.get("spacy-skd.scaled_rows.v1") is scaled_rows


@pytest.mark.parametrize(
    "width,rows,base_width", [(0, [5000], 96), (96, [5000], 0), (96, [], 96), (96, [0, 10], 96)]
)
def test_bad_sizes_are_refused(width, rows, base_width):
    with pytest.raises(ValueError):
        scaled_rows(width, rows, base_width)
