"""What a teacher component hands its students.

`export` turns one teacher component's view of a batch of docs into targets:
an skd_* component exports its own scores (`teacher_targets`); spaCy's softmax
taggers (`tagger`, `morphologizer`, `senter`) export their logits; spaCy's
transition-based `ner` runs and exports its entities (a span teacher with no
per-token scores: its students learn its best tag sequence). The targets and
how a cache entry stores them are in `spacy_skd.targets`.
"""

from __future__ import annotations

from typing import Callable, List

import numpy
from spacy.pipeline import EntityRecognizer, SentenceRecognizer, Tagger
from spacy.tokens import Doc

from ..arrays import to_numpy
from ..targets import EntityTargets, SequenceTargets, Targets


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
                to_logits(to_numpy(outputs[i], dtype="float32"))
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
