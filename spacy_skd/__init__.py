"""spacy-skd: structural knowledge distillation for spaCy.

Importing the package is cheap; the heavy parts live in `spacy_skd.structs`,
`spacy_skd.losses` and `spacy_skd.cli`.
"""

from .about import __version__

__all__ = ["__version__"]
