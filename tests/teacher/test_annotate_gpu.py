"""Annotating on CUDA gives the entries annotating on the CPU gives, in one
process (`--gpu-id 0`) and in a Ray actor that Ray gave the GPU (skipped without
a CUDA device and CuPy)."""

import subprocess
import sys

import pytest
from thinc.util import has_cupy_gpu

from spacy_skd.teacher.annotate import annotate_corpus
from tests.teacher.cache_entries import assert_same_entries, entries
from tests.teacher.test_annotate import corpora

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not has_cupy_gpu, reason="needs a CUDA device and CuPy"),
    pytest.mark.filterwarnings("ignore:.*without sentence boundaries"),
]


@pytest.mark.parametrize("where", [["--gpu-id", "0"], ["--ray", "local"]])
def test_annotating_on_cuda_gives_the_cpu_entries(teacher_path, tmp_path, where):
    if "--ray" in where:
        pytest.importorskip("ray")
    spacy_path, txt_path, _ = corpora(tmp_path)
    for corpus in (spacy_path, txt_path):
        annotate_corpus(str(teacher_path), corpus, tmp_path / "cpu")
        command = ["annotate", str(teacher_path), str(corpus), str(tmp_path / "cuda"), "-q"]
        done = subprocess.run(
            [sys.executable, "-m", "spacy_skd", *command, *where], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
    assert_same_entries(entries(tmp_path / "cuda"), entries(tmp_path / "cpu"), tolerance=1e-2)
