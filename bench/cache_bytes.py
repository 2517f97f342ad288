"""What a teacher-target cache holds on disk: per teacher (each `v<format>-<hash>`
folder of a cache_dir), its entries, the tokens they cover, the bytes of the entry
files, and the bytes per token of each kind of array (the component prefix of the
array names: `tagger.scores` counts under `tagger`, `hidden.-1` under `hidden`).
Sizes come from the entries' zip directories (each array's `.npy` size, header
included), so no array is read.

    python bench/cache_bytes.py project/cache/teacher-minilm
"""

from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy
import typer

from spacy_skd.teacher.teacher import HIDDEN


def entry_sizes(path: Path) -> Tuple[Dict[str, int], Optional[int]]:
    """The bytes of each array of the `.npz` entry at `path` (by array name) and its
    tokens (the first dimension of a hidden-state array or of a tagger's scores;
    None when it has neither)."""
    with zipfile.ZipFile(path) as archive:
        sizes = {info.filename[: -len(".npy")]: info.file_size for info in archive.infolist()}
        tokens_from = [name for name in sizes if name.startswith(f"{HIDDEN}.")]
        tokens_from += [name for name in sizes if name.endswith(".scores")]
        tokens = None
        if tokens_from:
            with archive.open(f"{tokens_from[0]}.npy") as member:
                version = numpy.lib.format.read_magic(member)
                read_header = (
                    numpy.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else numpy.lib.format.read_array_header_2_0
                )
                shape = read_header(member)[0]
            tokens = int(shape[0])
    return sizes, tokens


def folder_report(folder: Path, limit: int) -> Optional[List[str]]:
    """Markdown lines on the entries of one teacher's folder (the first `limit`
    entries by name; 0: all), or None when it has none."""
    paths = sorted(folder.glob("*.npz"))
    total = len(paths)
    if limit:
        paths = paths[:limit]
    if not paths:
        return None
    by_kind: Counter = Counter()
    tokens = files = 0
    for path in paths:
        sizes, n = entry_sizes(path)
        tokens += n or 0
        files += path.stat().st_size
        for name, size in sizes.items():
            by_kind[name.split(".", 1)[0]] += size
    lines = [
        f"## {folder.name}",
        "",
        f"{len(paths):,} of {total:,} entries, {tokens:,} tokens, {files:,} bytes on disk: "
        f"{files / max(tokens, 1):,.0f} bytes per token",
        "",
        "| arrays | bytes | bytes per token | share |",
        "|---|---|---|---|",
    ]
    arrays = sum(by_kind.values())
    for kind, size in sorted(by_kind.items(), key=lambda item: -item[1]):
        per_token = size / max(tokens, 1)
        lines.append(f"| {kind} | {size:,} | {per_token:,.0f} | {size / arrays:.1%} |")
    return lines


def main(
    cache_dir: Path = typer.Argument(..., exists=True, file_okay=False, help="A cache_dir"),
    limit: int = typer.Option(0, min=0, help="Entries to read per teacher (0: all)"),
) -> None:
    reports = [folder_report(folder, limit) for folder in sorted(cache_dir.glob("v*-*"))]
    reports = [report for report in reports if report]
    if not reports:
        raise typer.BadParameter(f"no cache entries under {cache_dir}")
    typer.echo("\n\n".join("\n".join(report) for report in reports))


if __name__ == "__main__":
    typer.run(main)
