"""The package's layers, read from the imports of every module (including those
inside functions): the tensor code knows nothing of spaCy, the teacher nothing of
the students' components, and only entry points reach the command line."""

import ast
from pathlib import Path
from typing import Dict, Set

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "spacy_skd"
# Torch only: usable without spaCy or Thinc.
TENSOR_ONLY = ("spacy_skd.structs", "spacy_skd.losses", "spacy_skd.methods")
ENTRY_POINTS = ("spacy_skd.cli", "spacy_skd.__main__")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> Set[str]:
    """The absolute names of the modules `path` imports, each with its parents."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf8"))):
        if isinstance(node, ast.Import):
            found = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            stem = ".".join(base + ([node.module] if node.module else []))
            found = [stem] + [f"{stem}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in found:
            parts = name.split(".")
            names.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return names


IMPORTS: Dict[str, Set[str]] = {
    module_name(path): imported(path) for path in sorted(PACKAGE.rglob("*.py"))
}


def within(module: str, prefixes) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_the_imports_are_read():
    assert "spacy_skd.pipeline.distiller" in IMPORTS
    distiller = IMPORTS["spacy_skd.pipeline.distiller"]
    assert {"spacy", "spacy_skd.methods", "spacy_skd.pipeline.labeller"} <= distiller
    # relative imports from a package's __init__ resolve inside that package
    assert "spacy_skd.teacher.cache" in IMPORTS["spacy_skd.teacher"]


@pytest.mark.parametrize("module", [m for m in IMPORTS if within(m, TENSOR_ONLY)])
def test_tensor_code_imports_neither_spacy_nor_thinc(module):
    assert not IMPORTS[module] & {"spacy", "thinc"}


@pytest.mark.parametrize("module", [m for m in IMPORTS if within(m, ["spacy_skd.teacher"])])
def test_the_teacher_does_not_import_the_pipeline(module):
    assert "spacy_skd.pipeline" not in IMPORTS[module]


@pytest.mark.parametrize("module", [m for m in IMPORTS if not within(m, ENTRY_POINTS)])
def test_only_entry_points_import_the_cli(module):
    assert "spacy_skd.cli" not in IMPORTS[module]


@pytest.mark.parametrize("module", [m for m in IMPORTS if m != "spacy_skd.testing"])
def test_no_module_of_the_package_imports_the_test_helpers(module):
    assert "spacy_skd.testing" not in IMPORTS[module]
