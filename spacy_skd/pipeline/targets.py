"""Teacher targets as they reach a student component: through the doc.

The distiller (or anyone) sets `doc._.skd_targets[component_name]` on the
predicted docs before the students' `update`; each `skd_*` component's loss
mixes them with gold (INTERFACES.md section 4). Scores are the teacher's, in
the student's label order; marginals are computed from them at loss time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy
from spacy.tokens import Doc

METHODS = ("token", "structural", "local", "local_scores", "hard")

if not Doc.has_extension("skd_targets"):
    Doc.set_extension("skd_targets", default=None)


@dataclass
class SequenceTargets:
    """A teacher's scores on one doc for a sequence-labelling student.

    scores: `[n_tokens, L]` logits (softmax teacher) or emissions (CRF teacher);
    transitions `[L, L]` (`[previous, next]`), start and end `[L]`: set for a CRF
    teacher, None for a softmax one. method: one of METHODS; weight: alpha in
    `alpha * KD + (1 - alpha) * gold`; temperature: T (scores / T, loss * T^2).
    """

    scores: numpy.ndarray
    method: str = "structural"
    weight: float = 0.5
    temperature: float = 1.0
    transitions: Optional[numpy.ndarray] = None
    start: Optional[numpy.ndarray] = None
    end: Optional[numpy.ndarray] = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"weight must lie in [0, 1], got {self.weight}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.scores.ndim != 2:
            raise ValueError(f"scores must be [n_tokens, labels], got shape {self.scores.shape}")

    @property
    def is_crf(self) -> bool:
        return self.transitions is not None


def targets_for(doc: Doc, component: str):
    """The targets set on `doc` for `component`, or None."""
    targets = doc._.skd_targets
    return None if not targets else targets.get(component)


@dataclass
class ArcTargets:
    """A teacher's scores on one doc for a parser student, per parsed sentence.

    spans: `(start, end)` token offsets of the sentences, the student's spans
    (gold sentences in training; see INTERFACES.md section 5); arcs: per
    sentence `[n+1, n+1]` arc scores (`[head, dependent]`, 0 = ROOT); labels: per
    sentence `[n, L]` label logits of each word at its teacher head `heads [n]`
    (0 = ROOT), in the student's label order; objective: the teacher's arc
    factorisation, "crf" (tree CRF) or "local" (head selection).
    """

    spans: List[Tuple[int, int]]
    arcs: List[numpy.ndarray]
    labels: List[numpy.ndarray]
    heads: List[numpy.ndarray]
    objective: str = "crf"
    method: str = "structural"
    weight: float = 0.5
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.objective not in ("crf", "local"):
            raise ValueError(f"objective must be 'crf' or 'local', got {self.objective!r}")
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"weight must lie in [0, 1], got {self.weight}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not len(self.spans) == len(self.arcs) == len(self.labels) == len(self.heads):
            raise ValueError("spans, arcs, labels and heads need one entry per sentence")
