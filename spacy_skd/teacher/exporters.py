"""What a teacher component hands its students, and how that is stored.

`export` turns one teacher component's view of a batch of docs into targets:
an skd_* component exports its own scores (`teacher_targets`); spaCy's softmax
taggers (`tagger`, `morphologizer`, `senter`) export their logits; spaCy's
transition-based `ner` runs and exports its entities (a span teacher with no
per-token scores: its students learn its best tag sequence).

`to_entry` / `from_entry` convert targets to the flat arrays of a cache entry and
back. A parser's arcs are stored in full up to `dense_up_to` words; a longer
sentence keeps, per dependent, its `top_k` best word heads, its ROOT score and
the head the teacher's tree gives it (so the teacher's tree stays a tree of the
stored support); the other arcs come back as impossible.
"""

from __future__ import annotations

from typing import Callable, List, Optional

import numpy
from spacy.pipeline import EntityRecognizer, SentenceRecognizer, Tagger
from spacy.tokens import Doc

from ..pipeline.targets import ArcTargets, EntityTargets, SequenceTargets, Targets
from ..structs.utils import NEG

# Where stored float16 scores mean "impossible": float16 turns -1e30 into -inf.
IMPOSSIBLE = -6e4


def can_export(pipe) -> bool:
    return hasattr(pipe, "teacher_targets") or isinstance(
        pipe, (Tagger, SentenceRecognizer, EntityRecognizer)
    )


def export(pipe, docs: List[Doc]) -> List[Targets]:
    """Targets of teacher component `pipe` for `docs` (which the teacher's earlier
    components have annotated), label columns named."""
    if hasattr(pipe, "teacher_targets"):
        return pipe.teacher_targets(docs)
    if isinstance(pipe, (Tagger, SentenceRecognizer)):
        labels = tuple(pipe.labels)
        outputs = pipe.model.predict(docs) if any(len(d) for d in docs) else []
        to_logits = _softmax_output(pipe.model)
        return [
            SequenceTargets(
                to_logits(numpy.asarray(outputs[i], dtype="float32"))
                if len(doc)
                else numpy.zeros((0, len(labels)), dtype="float32"),
                labels=labels,
            )
            for i, doc in enumerate(docs)
        ]
    if isinstance(pipe, EntityRecognizer):
        docs = list(pipe.pipe(docs))
        return [
            EntityTargets([(ent.start, ent.end, ent.label_) for ent in doc.ents]) for doc in docs
        ]
    raise ValueError(
        f"the teacher's '{pipe.name}' ({type(pipe).__name__}) has no scores to export: "
        "use an skd_* component or spaCy's tagger, morphologizer or senter"
    )


def _softmax_output(model) -> Callable[[numpy.ndarray], numpy.ndarray]:
    """How to turn a stock tagger's `predict` output into logits: the log of
    probabilities, or (with `normalize = false`, spaCy's default) the raw
    scores over the softmax temperature."""
    for node in model.walk():
        if "softmax_normalize" in node.attrs:
            if node.attrs["softmax_normalize"]:
                return lambda p: numpy.log(numpy.clip(p, 1e-30, None))
            temperature = node.attrs.get("softmax_temperature", 1.0)
            return lambda y: y / temperature
    raise ValueError(f"no softmax output layer in {model.name}")


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
        entry = {"scores": targets.scores, "labels": numpy.asarray(targets.labels, dtype="U")}
        if targets.is_crf:
            crf = [targets.transitions, targets.start, targets.end]
            entry.update(zip(("transitions", "start", "end"), (_storable(a) for a in crf)))
        return {f"{prefix}.{name}": value for name, value in entry.items()}
    dense, index, values, roots = [], [], [], []
    for arcs, heads in zip(targets.arcs, targets.heads):
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
        values.append(numpy.take_along_axis(numpy.asarray(arcs)[:, 1:].T, best, axis=1))
        roots.append(arcs[0, 1:])
    entry = {
        "spans": numpy.asarray(targets.spans, dtype="int32").reshape(-1, 2),
        "heads": numpy.concatenate(targets.heads or [numpy.zeros(0)]).astype("int32"),
        "labels": numpy.concatenate(targets.labels or [numpy.zeros((0, 0))]),
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
    return numpy.maximum(numpy.asarray(array, dtype="float32"), IMPOSSIBLE)


def _float(array: Optional[numpy.ndarray]) -> Optional[numpy.ndarray]:
    """float32, with the stored IMPOSSIBLE back at NEG."""
    if array is None:
        return None
    array = numpy.asarray(array, dtype="float32")
    return numpy.where(array <= IMPOSSIBLE, NEG, array).astype("float32")
