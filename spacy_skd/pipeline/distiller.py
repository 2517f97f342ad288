"""skd_distiller: runs the teacher (once per distinct doc, cached) and hands its
targets to the student components through the doc (see docs/design.md).

It sits before the students in the pipeline. In `update` it sets
`doc._.skd_targets[student]` on every example's predicted doc; the students then
mix gold and KD in their own loss. Outside training it is an inert pass-through
that loads no teacher, so a saved student loads and packages without it
(see docs/design.md, "Saving without the teacher").
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.pipeline import DependencyParser, EntityRecognizer, SentenceRecognizer, Tagger
from spacy.pipeline.trainable_pipe import TrainablePipe
from spacy.tokens import Doc
from spacy.training import Example, validate_examples
from spacy.vocab import Vocab
from thinc.api import Model, noop

from ..methods import METHODS, describe_pairs, methods_for
from ..targets import EntityTargets, from_entry
from ..teacher import TargetCache, Teacher, load_teacher
from ..teacher.cache import LRU, MEMORY_ENTRIES
from ..teacher.exporters import can_export
from .hidden import check_hidden_settings, hidden_kd_step, size_projection
from .labeller import SequenceLabeller
from .ner import SkdNer
from .parser import SkdParser
from .stock import add_token_kd, write_silver


@dataclass
class Pair:
    """One student component and what teaches it."""

    student: str
    teacher: str
    method: str = "structural"
    kd_weight: float = 0.5
    temperature: float = 1.0
    # methods to use instead, in order, when the pair cannot serve `method`
    fallback: Tuple[str, ...] = ()


def teacher_output(pipe) -> str:
    """What a component outputs, in the terms of `methods.METHODS_BY_OUTPUTS`."""
    if isinstance(pipe, SkdParser):
        return f"tree-{pipe.cfg['objective']}"
    if isinstance(pipe, SkdNer):
        return "sequence-crf"
    if isinstance(pipe, SequenceLabeller):
        return "sequence-crf" if pipe.is_crf else "sequence-softmax"
    if isinstance(pipe, (Tagger, SentenceRecognizer)):
        return "sequence-softmax"
    if isinstance(pipe, EntityRecognizer):
        return "entities"
    return type(pipe).__name__


def student_output(pipe) -> str:
    """What a component learns as: an skd_ner as its output layer; spaCy's own
    components as "stock-softmax", "stock-parser" or "stock-ner"."""
    if isinstance(pipe, SequenceLabeller):
        return "sequence-crf" if pipe.is_crf else "sequence-softmax"
    if isinstance(pipe, (Tagger, SentenceRecognizer)):
        return "stock-softmax"
    if isinstance(pipe, DependencyParser):
        return "stock-parser"
    if isinstance(pipe, EntityRecognizer):
        return "stock-ner"
    return teacher_output(pipe)


@Language.factory(
    "skd_distiller",
    default_config={
        "teacher": None,
        "students": {},
        "cache_dir": None,
        "batch_size": 32,
        "top_k": 8,
        "dense_up_to": 64,
        "model": None,
        "hidden_layers": [],
        "hidden_loss": "mse",
        "hidden_weight": 1.0,
        "memory_entries": MEMORY_ENTRIES,
    },
)
def make_distiller(
    nlp: Language,
    name: str,
    teacher: Optional[str],
    students: Dict[str, Dict],
    cache_dir: Optional[str],
    batch_size: int,
    top_k: int,
    dense_up_to: int,
    model: Optional[Model],
    hidden_layers: List[int],
    hidden_loss: str,
    hidden_weight: float,
    memory_entries: int,
) -> Distiller:
    """Create an skd_distiller.

    teacher: path or package name of the teacher pipeline (loaded at initialize,
    never when the trained pipeline is loaded). students: per student component,
    a dict with "teacher" (the teacher's component, default: the same name),
    "method" (one of `spacy_skd.methods.METHODS`, described there; default
    structural), "kd_weight" (alpha in alpha * KD + (1 - alpha) * gold, default
    0.5), "temperature" (default 1) and "fallback" (methods to use instead, in
    order, with a warning, where the pair cannot serve "method"; default none:
    an error). cache_dir: a folder that keeps the
    teacher's targets across runs (None: in memory only). batch_size: docs per
    teacher call. top_k, dense_up_to: a parser teacher's arcs are cached in full
    up to dense_up_to words, past that its top_k heads per word.
    Hidden-state KD (Aguilar et al. 2020), off unless hidden_layers is set:
    model maps the student's token vectors to the teacher's hidden width
    (spacy-skd.HiddenProjection.v1 over a listener on the student's tok2vec; the
    distiller then sits after that tok2vec); hidden_layers: the teacher
    transformer's layers (0 = embeddings, -1 = last) whose mean, pooled to
    tokens, is the target; hidden_loss: "mse" or "cosine"; hidden_weight: its
    weight, summed over tokens like the students' losses.
    memory_entries: how many docs' teacher targets, and separately how many docs'
    derived targets (the teacher's marginals), memory holds, the least recently
    used dropped first; a dropped doc's targets are read back from cache_dir, or
    without one computed by the teacher again, and its marginals recomputed.
    """
    return Distiller(
        nlp.vocab,
        name,
        teacher=teacher,
        students=students,
        cache_dir=cache_dir,
        batch_size=batch_size,
        top_k=top_k,
        dense_up_to=dense_up_to,
        model=model,
        hidden_layers=hidden_layers,
        hidden_loss=hidden_loss,
        hidden_weight=hidden_weight,
        memory_entries=memory_entries,
    )


class Distiller(TrainablePipe):
    """Attaches the teacher's targets to the examples of each training step."""

    def __init__(
        self,
        vocab: Vocab,
        name: str = "skd_distiller",
        *,
        teacher: Optional[str] = None,
        students: Optional[Dict[str, Dict]] = None,
        cache_dir: Optional[str] = None,
        batch_size: int = 32,
        top_k: int = 8,
        dense_up_to: int = 64,
        model: Optional[Model] = None,
        hidden_layers: Sequence[int] = (),
        hidden_loss: str = "mse",
        hidden_weight: float = 1.0,
        memory_entries: int = MEMORY_ENTRIES,
    ):
        self.vocab = vocab
        self.name = name
        check_hidden_settings(name, model, hidden_layers, hidden_loss)
        self.model = noop() if model is None else model
        self.cfg = {
            "teacher": teacher,
            "students": dict(students or {}),
            "cache_dir": cache_dir,
            "batch_size": batch_size,
            "top_k": top_k,
            "dense_up_to": dense_up_to,
            "hidden_layers": list(hidden_layers),
            "hidden_loss": hidden_loss,
            "hidden_weight": hidden_weight,
            "memory_entries": memory_entries,
        }
        self.pairs = [self._pair(student, spec) for student, spec in self.cfg["students"].items()]
        self.teacher: Optional[Teacher] = None
        # spaCy parsers and NERs that learn from silver trees/entities, by name.
        self._silver_students: Dict[str, object] = {}
        # skd_ner students of an entity teacher: its entities become their tags.
        self._entity_students: Dict[str, SkdNer] = {}
        self.cache: Optional[TargetCache] = None
        # doc key -> student -> what the student's loss derived from the targets
        # (the teacher's marginals): computed at a doc's first step, reused after.
        self._memos: LRU[str, Dict[str, dict]] = LRU(memory_entries)
        self._labels_checked = False

    def _pair(self, student: str, spec: Dict) -> Pair:
        unknown = set(spec) - {"teacher", "method", "kd_weight", "temperature", "fallback"}
        if unknown:
            raise ValueError(
                f"'{self.name}': unknown settings {sorted(unknown)} for student '{student}'; "
                "known: teacher, method, kd_weight, temperature, fallback"
            )
        spec = {**spec, "fallback": tuple(spec.get("fallback", ()))}
        pair = Pair(student, **{"teacher": student, **spec})
        for method in (pair.method, *pair.fallback):
            if method not in METHODS:
                raise ValueError(
                    f"'{self.name}': unknown method {method!r} for '{student}'; "
                    f"known: {', '.join(METHODS)}"
                )
        if not 0.0 <= pair.kd_weight <= 1.0 or not pair.temperature > 0:
            raise ValueError(
                f"'{self.name}': '{student}' needs 0 <= kd_weight <= 1 and temperature > 0"
            )
        return pair

    def __call__(self, doc: Doc) -> Doc:
        return doc

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterable[Doc]:
        yield from stream

    def predict(self, docs: Iterable[Doc]) -> None:
        return None

    def set_annotations(self, docs: Iterable[Doc], scores) -> None:
        return None

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
    ) -> None:
        """Load the teacher and check every pair: the student and the teacher
        component exist and the method suits their outputs."""
        if not self.cfg["teacher"]:
            raise ValueError(f"'{self.name}' needs a teacher: set its 'teacher' to a pipeline")
        if not self.pairs and not self.cfg["hidden_layers"]:
            raise ValueError(f"'{self.name}' has no students: set its 'students'")
        teacher_nlp = load_teacher(self.cfg["teacher"])
        for pair in self.pairs:
            self._check_pair(pair, nlp, teacher_nlp)
        self.teacher = Teacher(
            teacher_nlp,
            self.cfg["hidden_layers"],
            top_k=self.cfg["top_k"],
            dense_up_to=self.cfg["dense_up_to"],
        )
        self.cache = TargetCache(
            self.teacher.fingerprint, self.cfg["cache_dir"], self.cfg["memory_entries"]
        )
        if self.cfg["hidden_layers"]:
            self._initialize_projection(get_examples)
        self._labels_checked = False

    def _check_pair(self, pair: Pair, nlp: Optional[Language], teacher_nlp: Language) -> None:
        # component_names: a resumed run initializes the distiller with its
        # (sourced) students disabled
        if nlp is not None and pair.student not in nlp.component_names:
            raise ValueError(
                f"'{self.name}': the pipeline has no student component '{pair.student}'; "
                f"its components: {nlp.pipe_names}"
            )
        if pair.teacher not in teacher_nlp.pipe_names:
            raise ValueError(
                f"'{self.name}': the teacher {self.cfg['teacher']!r} has no component "
                f"'{pair.teacher}' (for student '{pair.student}'); its components: "
                f"{teacher_nlp.pipe_names}"
            )
        if nlp is None:
            return
        teacher_pipe = teacher_nlp.get_pipe(pair.teacher)
        if not can_export(teacher_pipe):
            raise ValueError(
                f"'{self.name}': the teacher's '{pair.teacher}' ({type(teacher_pipe).__name__}) "
                "has no scores to teach with: use an skd_* component or spaCy's tagger, "
                "morphologizer or senter"
            )
        student_pipe = nlp.get_pipe(pair.student)
        kinds = (teacher_output(teacher_pipe), student_output(student_pipe))
        methods = methods_for(*kinds)
        usable = [m for m in pair.fallback if m in methods]
        if pair.method not in methods and usable:
            warnings.warn(
                f"'{self.name}': method {pair.method!r} cannot distil the teacher's "
                f"'{pair.teacher}' ({kinds[0]}) into '{pair.student}' ({kinds[1]}); "
                f"using {usable[0]!r} for it",
                stacklevel=2,
            )
            pair.method = usable[0]
        if pair.method not in methods:
            raise ValueError(
                f"'{self.name}': method {pair.method!r} cannot distil the teacher's "
                f"'{pair.teacher}' ({kinds[0]}) into the student's '{pair.student}' "
                f"({kinds[1]}); supported: {describe_pairs()}"
            )
        if isinstance(teacher_pipe, SkdParser) and isinstance(student_pipe, SkdParser):
            teacher_pipe.model.attrs["max_length"] = student_pipe.cfg["max_length"]
            teacher_pipe.cfg["max_length"] = student_pipe.cfg["max_length"]
        if kinds[0] == "entities":
            if not isinstance(student_pipe, (SkdNer, EntityRecognizer)):
                raise ValueError(
                    f"'{self.name}': the teacher's '{pair.teacher}' sets entities, which only "
                    f"an skd_ner or ner student can learn, not '{pair.student}'"
                )
            if isinstance(student_pipe, SkdNer):
                self._entity_students[pair.student] = student_pipe
        _share_labels(teacher_pipe, student_pipe)
        if kinds[1] == "stock-softmax" and not getattr(student_pipe, "_skd_wrapped", False):
            add_token_kd(student_pipe)
            student_pipe._skd_wrapped = True
        if kinds[1] in ("stock-parser", "stock-ner"):
            self._silver_students[pair.student] = student_pipe

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd=None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """Attach the teacher's targets to every example's predicted doc."""
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, "Distiller.update")
        if self.teacher is None:
            raise ValueError(f"'{self.name}' has no teacher loaded: call initialize first")
        keys, entries = self._entries(examples)
        for example, key, entry in zip(examples, keys, entries):
            targets = self._targets(key, entry)
            for name, pipe in self._entity_students.items():
                if isinstance(targets.get(name), EntityTargets):
                    targets[name] = targets[name].as_tag_targets(
                        len(example.predicted), pipe.tag_names, pipe.scheme
                    )
            example.predicted._.skd_targets = targets
            for name, pipe in self._silver_students.items():
                if name in example.predicted._.skd_targets:
                    write_silver(example, pipe, example.predicted._.skd_targets[name])
        if self.cfg["hidden_layers"]:
            losses[self.name] += hidden_kd_step(
                self.model,
                [eg.predicted for eg in examples],
                entries,
                self.cfg["hidden_layers"],
                self.cfg["hidden_loss"],
                self.cfg["hidden_weight"],
                drop=drop,
                sgd=sgd,
            )
        return losses

    def _initialize_projection(self, get_examples: Callable[[], Iterable[Example]]) -> None:
        """Size the projection to the teacher's hidden width, from one doc."""
        example = next(iter(get_examples()), None)
        if example is None:
            raise ValueError(f"'{self.name}' needs at least one example to initialize")
        doc = self.teacher.doc_for(example.predicted, _gold_sent_starts(example))
        [entry] = self.teacher.annotate([doc])
        size_projection(self.model, entry, self.cfg["hidden_layers"])

    def _entries(self, examples: List[Example]) -> Tuple[List[str], List[dict]]:
        starts = [_gold_sent_starts(eg) for eg in examples]
        keys = [self.teacher.key_for(eg.predicted, s) for eg, s in zip(examples, starts)]
        entries = [self.cache.get(key) for key in keys]
        misses = [i for i, entry in enumerate(entries) if entry is None]
        size = self.cfg["batch_size"]
        for first in range(0, len(misses), size):
            batch = misses[first : first + size]
            docs = [self.teacher.doc_for(examples[i].predicted, starts[i]) for i in batch]
            for i, entry in zip(batch, self.teacher.annotate(docs)):
                self.cache.put(keys[i], entry)
                entries[i] = self.cache.get(keys[i])
        return keys, entries

    def _targets(self, key: str, entry: dict) -> Dict[str, object]:
        targets = {}
        memos = self._memos.setdefault(key, dict)
        for pair in self.pairs:
            found = from_entry(
                pair.teacher,
                entry,
                method=pair.method,
                weight=pair.kd_weight,
                temperature=pair.temperature,
                dense_up_to=self.cfg["dense_up_to"],
                memo=memos.setdefault(pair.student, {}),
            )
            if found is not None:
                targets[pair.student] = found
        return targets


def _share_labels(teacher_pipe, student_pipe) -> None:
    """Give a student that is not initialized yet every label of its teacher, so
    it can learn all the teacher predicts (its own data adds the rest); a student
    whose labels are fixed keeps them, and a teacher label it lacks is refused at
    the first update."""
    if isinstance(student_pipe, SentenceRecognizer) or not hasattr(student_pipe, "add_label"):
        return
    for label in teacher_pipe.labels:
        try:
            student_pipe.add_label(label)
        except ValueError:
            return


def _gold_sent_starts(example: Example) -> Optional[List[Optional[bool]]]:
    if not example.reference.has_annotation("SENT_START"):
        return None
    return example.get_aligned_sent_starts()
