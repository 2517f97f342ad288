import pytest
import torch

# The structures in the tests are tiny: intra-op threads only add overhead, and
# on a 2-core CI machine they contend with each other.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def teacher_path(tmp_path_factory):
    """A small trained teacher pipeline on disk (tests/small_teacher.py)."""
    from tests.small_teacher import train_small_teacher

    return train_small_teacher(tmp_path_factory.mktemp("teacher") / "model")
