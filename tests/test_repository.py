"""The repository keeps its promises: CI runs the README's test command."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
