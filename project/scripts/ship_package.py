"""Put the sdist that `spacy package` built into the folder the repository keeps
its packaged pipeline in (`packages/`): the only `.tar.gz` there, at most
`--max-mb` MB (1e6 bytes). A package there of the same file name and the same
README.md (the model card, which holds the numbers) is kept as it is, so that a
rebuild whose numbers did not change leaves the committed file untouched.

python scripts/ship_package.py SDIST packages [--max-mb 20]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tarfile
from pathlib import Path
from typing import Optional

MAX_MB = 20.0


def card(sdist: Path) -> Optional[bytes]:
    """The README.md at the top of the sdist's folder (`NAME-VERSION/README.md`)."""
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            parts = Path(member.name).parts
            if len(parts) == 2 and parts[1] == "README.md" and member.isfile():
                return archive.extractfile(member).read()
    return None


def ship(sdist: Path, folder: Path, max_mb: float = MAX_MB) -> Path:
    """Copy `sdist` into `folder` as its only package (`.tar.gz`), unless
    the same file name with the same card is there already; returns its path
    there. An sdist over `max_mb` MB is an error."""
    sdist, folder = Path(sdist), Path(folder)
    if not sdist.name.endswith(".tar.gz") or not sdist.is_file():
        raise ValueError(f"{sdist} is not an sdist (.tar.gz) file")
    size_mb = sdist.stat().st_size / 1e6
    if size_mb > max_mb:
        raise ValueError(f"{sdist} is {size_mb:.1f} MB, over the {max_mb:g} MB a package may have")
    target = folder / sdist.name
    if target.is_file() and card(target) == card(sdist):
        print(f"{target} holds the same card: kept as it is")
    else:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sdist, target)
        print(f"{target}: {size_mb:.1f} MB")
    for other in sorted(folder.glob("*.tar.gz")):
        if other != target:
            other.unlink()
            print(f"removed {other}")
    return target


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sdist", type=Path, help="the .tar.gz that spacy package built")
    parser.add_argument("folder", type=Path, help="the folder of the shipped package")
    parser.add_argument("--max-mb", type=float, default=MAX_MB, help="size limit in MB")
    args = parser.parse_args(argv)
    try:
        ship(args.sdist, args.folder, args.max_mb)
    except ValueError as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
