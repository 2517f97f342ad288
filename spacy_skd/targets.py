"""The targets a teacher hands its students, and how a cache stores them.

`SequenceTargets` (a tagger's or skd_ner's scores), `ArcTargets` (a parser's,
per sentence) and `EntityTargets` (entities without scores) are made by the
teacher (`teacher.exporters`), stored (`to_entry` / `from_entry`) and read by
the students: the distiller (or anyone) sets `doc._.skd_targets[component_name]`
on the predicted docs before the students' `update`, and each student's loss
mixes them with gold. Scores are the teacher's, label columns named; a student
reads them in its own label order (`targets_for`, `in_label_order`); marginals
are computed from them at loss time.

In a cache entry a parser's arcs are stored in full up to `dense_up_to` words; a
longer sentence keeps, per dependent, its `top_k` best word heads, its ROOT score
and the head the teacher's tree gives it (so the teacher's tree stays a tree of
the stored support); the other arcs come back as impossible.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy
from spacy.tokens import Doc

from .arrays import to_numpy
from .methods import METHODS
from .structs.utils import NEG

# Where stored float16 scores mean "impossible": float16 turns -1e30 into -inf.
IMPOSSIBLE = -6e4

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
    (gold sentences in training, else the teacher's); arcs: per
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


def to_entry(prefix: str, targets: Targets, top_k: int = 8, dense_up_to: int = 64) -> dict:
    """The arrays of one doc's targets, names starting with `prefix`."""
    if isinstance(targets, EntityTargets):
        offsets = [(start, end) for start, end, _ in targets.entities]
        return {
            f"{prefix}.entities": numpy.asarray(offsets, dtype="int32").reshape(-1, 2),
            f"{prefix}.entity_labels": numpy.asarray(
                [label for _, _, label in targets.entities], dtype="U"
            ).reshape(-1),
        }
    if isinstance(targets, SequenceTargets):
        scores = to_numpy(targets.scores)
        entry = {"scores": scores, "labels": numpy.asarray(targets.labels, dtype="U")}
        if targets.is_crf:
            crf = [targets.transitions, targets.start, targets.end]
            entry.update(zip(("transitions", "start", "end"), (_storable(a) for a in crf)))
        return {f"{prefix}.{name}": value for name, value in entry.items()}
    all_heads = [to_numpy(heads) for heads in targets.heads]
    all_labels = [to_numpy(labels) for labels in targets.labels]
    dense, index, values, roots = [], [], [], []
    for arcs, heads in zip(targets.arcs, all_heads):
        arcs = to_numpy(arcs)
        n = len(heads)
        if n <= dense_up_to:
            dense.append(_storable(arcs).ravel())
            continue
        k = min(top_k, n - 1)
        word_heads = numpy.asarray(arcs[1:, 1:], dtype="float32").copy()
        numpy.fill_diagonal(word_heads, -numpy.inf)
        best = 1 + numpy.argsort(-word_heads, axis=0)[:k].T
        missing = (heads > 0) & ~(best == heads[:, None]).any(axis=1)
        best[missing, -1] = heads[missing]
        index.append(best)
        values.append(numpy.take_along_axis(arcs[:, 1:].T, best, axis=1))
        roots.append(arcs[0, 1:])
    entry = {
        "spans": numpy.asarray(targets.spans, dtype="int32").reshape(-1, 2),
        "heads": numpy.concatenate(all_heads or [numpy.zeros(0)]).astype("int32"),
        "labels": numpy.concatenate(all_labels or [numpy.zeros((0, 0))]),
        "label_names": numpy.asarray(targets.label_names, dtype="U"),
        "objective": numpy.asarray(targets.objective),
        "dense": numpy.concatenate(dense or [numpy.zeros(0)]),
        "top_heads": numpy.concatenate(index or [numpy.zeros((0, 0))]).astype("int32"),
        "top_scores": _storable(numpy.concatenate(values or [numpy.zeros((0, 0))])),
        "root_scores": numpy.concatenate(roots or [numpy.zeros(0)]),
    }
    return {f"{prefix}.{name}": value for name, value in entry.items()}


def from_entry(
    prefix: str,
    entry: dict,
    *,
    method: str,
    weight: float,
    temperature: float,
    dense_up_to: int = 64,
    memo: Optional[dict] = None,
) -> Optional[Targets]:
    """The targets stored under `prefix` in `entry` (float32), or None. `memo`:
    the dict the targets keep what their loss derives in (see SequenceTargets)."""

    def get(name: str) -> Optional[numpy.ndarray]:
        value = entry.get(f"{prefix}.{name}")
        return None if value is None else value

    settings = {"method": method, "weight": weight, "temperature": temperature}
    if get("entities") is not None:
        labels = [str(label) for label in get("entity_labels")]
        entities = [(int(s), int(e), label) for (s, e), label in zip(get("entities"), labels)]
        return EntityTargets(entities, **settings)
    if get("scores") is not None:
        crf = {name: _float(get(name)) for name in ("transitions", "start", "end")}
        return SequenceTargets(
            _float(get("scores")),
            labels=tuple(str(label) for label in get("labels")),
            **(crf if crf["transitions"] is not None else {}),
            **settings,
            **({} if memo is None else {"memo": memo}),
        )
    if get("spans") is None:
        return None
    spans = [tuple(int(x) for x in span) for span in get("spans")]
    heads_flat, labels_flat = get("heads"), _float(get("labels"))
    dense, top_heads, top_scores, roots = (
        _float(get(n)) if n != "top_heads" else get(n)
        for n in ("dense", "top_heads", "top_scores", "root_scores")
    )
    arcs, heads, labels = [], [], []
    word = dense_at = sparse_at = 0
    for start, end in spans:
        n = end - start
        heads.append(heads_flat[word : word + n].astype("int64"))
        labels.append(labels_flat[word : word + n])
        word += n
        if n <= dense_up_to:
            size = (n + 1) ** 2
            arcs.append(dense[dense_at : dense_at + size].reshape(n + 1, n + 1))
            dense_at += size
            continue
        matrix = numpy.full((n + 1, n + 1), NEG, dtype="float32")
        columns = numpy.arange(1, n + 1)
        rows = slice(sparse_at, sparse_at + n)
        matrix[top_heads[rows].T, columns[None, :]] = top_scores[rows].T
        matrix[0, 1:] = roots[rows]
        arcs.append(matrix)
        sparse_at += n
    return ArcTargets(
        spans,
        arcs,
        labels,
        heads,
        objective=str(get("objective")),
        label_names=tuple(str(label) for label in get("label_names")),
        **settings,
        **({} if memo is None else {"memo": memo}),
    )


def _storable(array: numpy.ndarray) -> numpy.ndarray:
    """float32 with -inf (and anything below float16's range) at IMPOSSIBLE."""
    return numpy.maximum(to_numpy(array, dtype="float32"), IMPOSSIBLE)


def _float(array: Optional[numpy.ndarray]) -> Optional[numpy.ndarray]:
    """float32, with the stored IMPOSSIBLE back at NEG."""
    if array is None:
        return None
    array = to_numpy(array, dtype="float32")
    return numpy.where(array <= IMPOSSIBLE, NEG, array).astype("float32")
