"""Teacher targets as they reach a student component: through the doc.

The distiller (or anyone) sets `doc._.skd_targets[component_name]` on the
predicted docs before the students' `update`; each `skd_*` component's loss
mixes them with gold (INTERFACES.md section 4). Scores are the teacher's, in
the student's label order; marginals are computed from them at loss time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy
from spacy.tokens import Doc

from ..structs.utils import NEG

METHODS = (
    "token",
    "structural",
    "local",
    "local_scores",
    "local_scores_spread",
    "local_scores_raw",
    "hard",
)

if not Doc.has_extension("skd_targets"):
    Doc.set_extension("skd_targets", default=None)


@dataclass
class SequenceTargets:
    """A teacher's scores on one doc for a sequence-labelling student.

    scores: `[n_tokens, L]` logits (softmax teacher) or emissions (CRF teacher);
    transitions `[L, L]` (`[previous, next]`), start and end `[L]`: set for a CRF
    teacher, None for a softmax one. method: one of METHODS; weight: alpha in
    `alpha * KD + (1 - alpha) * gold`; temperature: T (scores / T, loss * T^2).
    labels: the names of the L columns, or () when they are already the student's.
    memo: what a loss derived from these scores (the teacher's marginals), kept
    for the next time the same doc comes; the distiller hands in one dict per doc
    and student that lives across epochs.
    """

    scores: numpy.ndarray
    method: str = "structural"
    weight: float = 0.5
    temperature: float = 1.0
    transitions: Optional[numpy.ndarray] = None
    start: Optional[numpy.ndarray] = None
    end: Optional[numpy.ndarray] = None
    labels: Tuple[str, ...] = ()
    memo: Dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"weight must lie in [0, 1], got {self.weight}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.scores.ndim != 2:
            raise ValueError(f"scores must be [n_tokens, labels], got shape {self.scores.shape}")
        if self.labels and len(self.labels) != self.scores.shape[1]:
            raise ValueError(
                f"{len(self.labels)} label names for {self.scores.shape[1]} score columns"
            )

    @property
    def is_crf(self) -> bool:
        return self.transitions is not None


def targets_for(doc: Doc, component: str, names: Optional[Sequence[str]] = None):
    """The targets set on `doc` for `component`, or None; with `names` (the
    component's label or tag names), in that label order (see `in_label_order`)."""
    targets = doc._.skd_targets
    targets = None if not targets else targets.get(component)
    if targets is None or names is None:
        return targets
    return in_label_order(targets, names, component)


@dataclass
class ArcTargets:
    """A teacher's scores on one doc for a parser student, per parsed sentence.

    spans: `(start, end)` token offsets of the sentences, the student's spans
    (gold sentences in training; see INTERFACES.md section 5); arcs: per
    sentence `[n+1, n+1]` arc scores (`[head, dependent]`, 0 = ROOT); labels: per
    sentence `[n, L]` label logits of each word at its teacher head `heads [n]`
    (0 = ROOT), in the student's label order; objective: the teacher's arc
    factorisation, "crf" (tree CRF) or "local" (head selection). label_names:
    the names of the L label columns, or () when they are already the student's.
    memo: as SequenceTargets', one dict per sentence under its index.
    """

    spans: List[Tuple[int, int]]
    arcs: List[numpy.ndarray]
    labels: List[numpy.ndarray]
    heads: List[numpy.ndarray]
    objective: str = "crf"
    method: str = "structural"
    weight: float = 0.5
    temperature: float = 1.0
    label_names: Tuple[str, ...] = ()
    memo: Dict = field(default_factory=dict, repr=False, compare=False)

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


@dataclass
class EntityTargets:
    """A teacher's entities on one doc, `(start, end, label)` token offsets: what
    a span or entity teacher without per-token scores (spaCy's transition-based
    `ner`) offers. A BIO/BILUO student learns them as its one best tag sequence
    (`as_tag_targets`), so only "hard" targets are defined."""

    entities: List[Tuple[int, int, str]]
    method: str = "hard"
    weight: float = 0.5
    temperature: float = 1.0

    def as_tag_targets(
        self, n_tokens: int, tag_names: Sequence[str], scheme: str
    ) -> SequenceTargets:
        """One-hot tag scores `[n_tokens, T]` in the student's tags and scheme."""
        tags = ["O"] * n_tokens
        for start, end, label in self.entities:
            if end - start == 1:
                tags[start] = ("U-" if scheme == "BILUO" else "B-") + label
                continue
            tags[start] = "B-" + label
            for i in range(start + 1, end):
                tags[i] = "I-" + label
            if scheme == "BILUO":
                tags[end - 1] = "L-" + label
        index = {tag: i for i, tag in enumerate(tag_names)}
        unknown = sorted({tag[2:] for tag in tags if tag not in index})
        if unknown:
            raise ValueError(
                f"the teacher's entity labels {unknown} are not among the student's tags"
            )
        scores = numpy.full((n_tokens, len(tag_names)), NEG, dtype="float32")
        scores[numpy.arange(n_tokens), [index[tag] for tag in tags]] = 0.0
        return SequenceTargets(
            scores, method=self.method, weight=self.weight, temperature=self.temperature
        )


Targets = Union[SequenceTargets, ArcTargets, EntityTargets]


def in_label_order(targets: Targets, names: Sequence[str], component: str = "student") -> Targets:
    """`targets` with its label columns in the order of `names` (a student's
    labels), matched by name; targets without label names are returned as they
    are. A label only the student has gets impossible scores (the teacher never
    predicts it); a label only the teacher has cannot be taught: ValueError
    listing them."""
    own = targets.labels if isinstance(targets, SequenceTargets) else targets.label_names
    if not own or tuple(own) == tuple(names):
        return targets
    only_teacher = sorted(set(own) - set(names))
    if only_teacher:
        raise ValueError(
            f"The teacher's labels for '{component}' cannot be mapped onto the student's: "
            f"only the teacher has {only_teacher}; the student's labels are {sorted(names)}"
        )
    position = {name: i for i, name in enumerate(own)}
    order = numpy.asarray([position.get(name, -1) for name in names])
    missing = order < 0

    def columns(array: numpy.ndarray, axis: int = -1) -> numpy.ndarray:
        taken = numpy.take(array, order.clip(min=0), axis=axis).astype("float32")
        index = [slice(None)] * taken.ndim
        index[axis] = missing
        taken[tuple(index)] = NEG
        return taken

    # What is derived from the reordered scores is kept apart from the original's.
    memo = targets.memo.setdefault(("labels", tuple(names)), {})
    if isinstance(targets, ArcTargets):
        labels = [columns(label) for label in targets.labels]
        return replace(targets, labels=labels, label_names=tuple(names), memo=memo)
    crf = {}
    if targets.is_crf:
        crf = {
            "transitions": columns(columns(targets.transitions, 0), 1),
            "start": columns(targets.start),
            "end": columns(targets.end),
        }
    return replace(targets, scores=columns(targets.scores), labels=tuple(names), memo=memo, **crf)
