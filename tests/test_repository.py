"""The repository keeps its promises: CI runs the README's test command, the docs
are self-contained and their links lead somewhere."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Verbatim records of runs (their logs and reports quote the commands as run).
RUN_RECORDS = ("bench/metrics/", "project/metrics/")
LINKED_DOCS = ("README.md", "docs/*.md", "bench/README.md", "bench/notes/*.md")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCED = re.compile(r"```.*?```", re.DOTALL)
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


def test_ci_runs_the_readme_test_command():
    ci_lines = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "set ", "cd "))
    ]
    assert len(ci_lines) == 1, ci_lines
    assert ci_lines[0] in (ROOT / "README.md").read_text().splitlines()


def test_constraints_pin_the_cpu_torch():
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text().split()


def test_import_is_cheap():
    """Importing the package itself must not pull in torch, spaCy or transformers."""
    import subprocess
    import sys

    code = (
        "import sys, spacy_skd; "
        "heavy = ('torch', 'spacy', 'thinc', 'transformers'); "
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == ""


def _repository_files() -> list:
    """The files git tracks or would track (not ignored), relative to ROOT."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    names = sorted({name for name in listed.decode("utf8").split("\0") if name})
    return [name for name in names if (ROOT / name).is_file()]


# an upper-case markdown document's name, e.g. a design document's
DOCUMENT_NAME = re.compile(rb"\b[A-Z][A-Z_]+\.md\b")


def test_no_file_points_outside_the_repository():
    """The project's own docs live in docs/: every upper-case document a file names
    (`NAME.md`) is one of the repository's, and no file names a folder outside it
    (run records quote their commands as run)."""
    this = Path(__file__).resolve().relative_to(ROOT).as_posix()
    own_documents = {Path(name).name.encode() for name in _repository_files()}
    offenders = []
    for name in _repository_files():
        if name == this:
            continue
        content = (ROOT / name).read_bytes()
        for named in set(DOCUMENT_NAME.findall(content)) - own_documents:
            offenders.append(f"{name}: {named.decode()}")
        if b"../shared" in content and not name.startswith(RUN_RECORDS):
            offenders.append(f"{name}: ../shared")
    assert not offenders, offenders


def _anchor(heading: str) -> str:
    """GitHub's anchor of a markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(markdown: Path) -> set:
    found, seen = set(), {}
    for line in FENCED.sub("", markdown.read_text(encoding="utf8")).splitlines():
        if line.startswith("#"):
            anchor = _anchor(line.lstrip("#"))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def _links():
    for pattern in LINKED_DOCS:
        for doc in sorted(ROOT.glob(pattern)):
            text = CODE.sub("", doc.read_text(encoding="utf8"))
            for target in LINK.findall(text):
                if not re.match(r"^[a-z]+:", target):
                    yield doc, target


def test_relative_links_lead_to_files_and_headings():
    """Every relative link in the README, docs/ and bench/'s docs names an existing
    file, and a `#heading` in a markdown file one of its headings."""
    broken = []
    for doc, target in _links():
        path, _, anchor = target.partition("#")
        file = (doc.parent / path).resolve() if path else doc
        where = f"{doc.relative_to(ROOT)}: {target}"
        if not file.exists():
            broken.append(where)
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{where} (no such heading)")
    assert not broken, broken
