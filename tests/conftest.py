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


@pytest.fixture(scope="module")
def trf_teacher(tmp_path_factory):
    """An untrained transformer tagger on a tiny random BERT on disk
    (tests/small_teacher.py); the hub stays forced offline while the module runs."""
    from spacy_skd.testing import force_hf_offline
    from tests.small_teacher import save_transformer_teacher

    with pytest.MonkeyPatch.context() as monkeypatch:
        force_hf_offline(monkeypatch)
        yield save_transformer_teacher(tmp_path_factory.mktemp("trf"))
