import pytest
from spacy.util import fix_random_seed


@pytest.fixture(autouse=True)
def _seeded():
    """Component tests train tiny models from random init: make every run the same."""
    fix_random_seed(0)
