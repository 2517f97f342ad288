"""skd_parser: a graph-based dependency parser (biaffine arc and label scorers,
MST decoding) that learns from gold trees and from a teacher's targets."""

from __future__ import annotations

import warnings
from itertools import islice
from typing import Callable, Iterable, List, Optional, Tuple

import numpy
import torch
from spacy.attrs import DEP, HEAD
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model

from ..arrays import to_numpy
from ..models.parser import ParserScores
from ..structs import mst
from ..targets import ArcTargets, targets_for
from .base import LabelledPipe
from .parser_loss import OBJECTIVES, parser_loss

DEFAULT_PARSER_MODEL = """
[model]
@architectures = "spacy-skd.BiaffineParser.v1"
nO = null
arc_hidden_width = 256
label_hidden_width = 128
dropout = 0.1
distance = true

[model.tok2vec]
@architectures = "spacy.HashEmbedCNN.v2"
pretrained_vectors = null
width = 96
depth = 4
embed_size = 2000
window_size = 1
maxout_pieces = 3
subword_features = true
"""


@Language.factory(
    "skd_parser",
    assigns=["token.head", "token.dep", "token.is_sent_start", "doc.sents"],
    default_config={
        "model": Config().from_str(DEFAULT_PARSER_MODEL)["model"],
        "objective": "crf",
        "max_length": 100,
        "scorer": {"@scorers": "spacy.parser_scorer.v1"},
        "learn_rate_scale": 1.0,
    },
    default_score_weights={
        "dep_uas": 0.5,
        "dep_las": 0.5,
        "dep_las_per_type": None,
        "sents_p": None,
        "sents_r": None,
        "sents_f": None,
    },
)
def make_parser(
    nlp: Language,
    name: str,
    model: Model,
    objective: str,
    max_length: int,
    scorer: Optional[Callable],
    learn_rate_scale: float,
) -> SkdParser:
    """Create an skd_parser.

    model: arc and label scores per sentence (spacy-skd.BiaffineParser.v1).
    objective: "crf" (tree CRF: the likelihood of the gold tree among all
    non-projective single-root trees, by the matrix-tree theorem) or "local"
    (head selection: a softmax over heads per word). Decoding is the maximum
    spanning tree either way. max_length: longest stretch parsed as one tree; a
    longer sentence is cut into pieces of this length. scorer: dep_uas, dep_las,
    dep_las_per_type and sents_p/r/f (spacy.parser_scorer.v1).
    learn_rate_scale: multiplies the optimizer's learning rate for this
    component's own parameters (not for a tok2vec or transformer it listens to):
    a transformer's fresh output layers learn too slowly at its fine-tuning rate.
    """
    return SkdParser(
        nlp.vocab,
        model,
        name,
        objective=objective,
        max_length=max_length,
        scorer=scorer,
        learn_rate_scale=learn_rate_scale,
    )


class SkdParser(LabelledPipe):
    """Sets token.head and token.dep_, one sentence at a time (see
    docs/design.md, "Sentences"): sentences from an upstream senter, or the whole doc."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "skd_parser",
        *,
        objective: str = "crf",
        max_length: int = 100,
        scorer: Optional[Callable] = None,
        learn_rate_scale: float = 1.0,
    ):
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        self.vocab = vocab
        self.model = model
        self.name = name
        self._rehearsal_model = None
        self.cfg = {
            "labels": [],
            "objective": objective,
            "max_length": max_length,
            "learn_rate_scale": learn_rate_scale,
        }
        self.model.attrs["max_length"] = max_length
        self.scorer = scorer
        self._warned_no_sentences = False

    def _is_sized(self) -> bool:
        return self.model.has_dim("nO")

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Iterable[str]] = None,
    ) -> None:
        """Set the dependency labels (given, or every gold label in the examples)
        and the model's shapes."""
        validate_get_examples(get_examples, "SkdParser.initialize")
        if labels is None:
            found = set()
            for example in get_examples():
                _, deps = example.get_aligned_parse(projectivize=False)
                found.update(dep for dep in deps if dep)
            labels = sorted(found)
        for label in labels:
            self.add_label(label)
        if not self.labels:
            raise ValueError(
                f"'{self.name}' found no dependency labels in the training data: "
                "the corpus has no trees"
            )
        self.model.set_dim("nO", len(self.labels))
        self.model.initialize(X=[eg.predicted for eg in islice(get_examples(), 10)])

    def predict(self, docs: Iterable[Doc]) -> Tuple[List, numpy.ndarray, numpy.ndarray]:
        """The parsed spans, and per span the heads `[S, n+1]` (0 = ROOT) of the
        maximum spanning tree with one word on ROOT and the label ids `[S, n+1]`
        of its arcs."""
        docs = list(docs)
        if not self._warned_no_sentences and any(
            len(doc) > 1 and not doc.has_annotation("SENT_START") for doc in docs
        ):
            warnings.warn(
                f"'{self.name}' got docs without sentence boundaries and parses each as one "
                f"tree (cut every {self.cfg['max_length']} tokens); put a senter before it",
                stacklevel=2,
            )
            self._warned_no_sentences = True
        scores, heads, label_scores = self._parse(docs)
        if label_scores is None:
            return scores.spans, heads, heads
        return scores.spans, heads, label_scores.argmax(-1)

    def _parse(
        self, docs: List[Doc]
    ) -> Tuple[ParserScores, numpy.ndarray, Optional[numpy.ndarray]]:
        """The model's scores, the MST heads `[S, n+1]` and the label scores at
        those heads `[S, n+1, L]` (None when there is nothing to parse)."""
        scores = self.model.predict(docs)
        if not scores.spans:
            return scores, numpy.zeros((0, 1), dtype="int64"), None
        arcs = torch.as_tensor(to_numpy(scores.arcs, dtype="float32"))
        heads = mst(arcs, torch.tensor(scores.lengths), single_root=True).numpy()
        at_heads = self._at_heads(scores.label_heads, heads.clip(min=0))
        # heads is -1 at ROOT and padding: no label is scored there
        label_scores = self.model.get_ref("label_scorer").predict(
            (at_heads, scores.label_deps, heads)
        )
        return scores, heads, to_numpy(label_scores)

    def teacher_targets(
        self,
        docs: Iterable[Doc],
        *,
        method: str = "structural",
        weight: float = 0.5,
        temperature: float = 1.0,
    ) -> List[ArcTargets]:
        """This component's scores on `docs` as a teacher's targets (see
        docs/cache.md), per doc and parsed sentence: arc scores `[n+1, n+1]`, the MST
        heads `[n]` and the label logits at them `[n, L]`, labels named by
        `labels`. The sentences are those `predict` parses (set them first)."""
        docs = list(docs)
        scores, heads, label_scores = self._parse(docs)
        all_arcs = to_numpy(scores.arcs, dtype="float32")
        per_doc = [([], [], [], []) for _ in docs]
        for k, (i, start, end) in enumerate(scores.spans):
            n = end - start
            spans, arcs, labels, doc_heads = per_doc[i]
            spans.append((start, end))
            arcs.append(all_arcs[k, : n + 1, : n + 1])
            labels.append(numpy.asarray(label_scores[k, 1 : n + 1], dtype="float32"))
            doc_heads.append(heads[k, 1 : n + 1].copy())
        return [
            ArcTargets(
                *lists,
                objective=self.cfg["objective"],
                method=method,
                weight=weight,
                temperature=temperature,
                label_names=self.labels,
            )
            for lists in per_doc
        ]

    @staticmethod
    def _at_heads(label_heads, heads: numpy.ndarray):
        """`[S, n+1, H]`: each dependent's head row of `label_heads [S, n+1, H]`."""
        return label_heads[numpy.arange(heads.shape[0])[:, None], heads]

    def set_annotations(self, docs: Iterable[Doc], parses: Tuple) -> None:
        spans, heads, label_ids = parses
        docs = list(docs)
        relative = [numpy.zeros(len(doc), dtype="int64") for doc in docs]
        dep_ids = [numpy.zeros(len(doc), dtype="uint64") for doc in docs]
        for k, (i, start, end) in enumerate(spans):
            for offset in range(end - start):
                head = heads[k, offset + 1]
                relative[i][start + offset] = 0 if head == 0 else head - 1 - offset
                label = self.labels[label_ids[k, offset + 1]]
                dep_ids[i][start + offset] = self.vocab.strings.add(label)
        for doc, offsets, deps in zip(docs, relative, dep_ids):
            if len(doc):
                # spaCy stores relative heads as wrapped unsigned integers.
                doc.from_array([HEAD, DEP], numpy.stack([offsets.astype("uint64"), deps], 1))

    def _gold(self, example: Example, start: int, end: int, heads, deps) -> Tuple:
        """Gold heads (0 = ROOT, 1..n, -1 missing) and label ids of one span; a head
        outside the span, and any ROOT attachment after the first, are missing."""
        index = {label: i for i, label in enumerate(self.labels)}
        span_heads, span_labels = [-1], [-1]
        seen_root = False
        for d in range(start, end):
            head, dep = heads[d], deps[d]
            if head is None or not dep:
                span_heads.append(-1)
                span_labels.append(-1)
                continue
            if head == d and not seen_root:
                local, seen_root = 0, True
            elif start <= head < end and head != d:
                local = head - start + 1
            else:
                local = -1
            span_heads.append(local)
            span_labels.append(index.get(dep, -1) if local >= 0 else -1)
        return span_heads, span_labels

    def _loss_and_gradients(self, examples: List[Example], scores: ParserScores) -> Tuple:
        """(loss, d_scores), by one torch backward; the label scorer is applied to
        the gold heads (and to the teacher's, where targets exist) and
        backpropagated here."""
        n_nodes = scores.arcs.shape[1]
        arcs = torch.as_tensor(to_numpy(scores.arcs, dtype="float32")).requires_grad_()
        lengths = torch.tensor(scores.lengths)
        gold_heads = numpy.full((len(scores.spans), n_nodes), -1, dtype="int64")
        gold_labels = numpy.full_like(gold_heads, -1)
        teacher_heads = numpy.zeros_like(gold_heads)
        parses, targets = {}, []
        for k, (i, start, end) in enumerate(scores.spans):
            if i not in parses:
                parses[i] = examples[i].get_aligned_parse(projectivize=False)
            span_heads, span_labels = self._gold(examples[i], start, end, *parses[i])
            gold_heads[k, : len(span_heads)] = span_heads
            gold_labels[k, : len(span_labels)] = span_labels
            targets.append(self._span_targets(examples[i].predicted, start, end))
            if targets[-1] is not None:
                teacher_heads[k, 1 : 1 + end - start] = targets[-1]["heads"]
        label_runs = {"gold": gold_heads.clip(min=0)}
        if any(t is not None for t in targets):
            label_runs["teacher"] = teacher_heads
        label_scorer = self.model.get_ref("label_scorer")
        label_scores, backprops = {}, {}
        for name, heads in label_runs.items():
            out, backprops[name] = label_scorer(
                (self._at_heads(scores.label_heads, heads), scores.label_deps, heads),
                is_train=True,
            )
            label_scores[name] = torch.as_tensor(to_numpy(out, dtype="float32"))
            label_scores[name].requires_grad_()
        loss = parser_loss(
            arcs,
            lengths,
            self.cfg["objective"],
            torch.as_tensor(gold_heads),
            torch.as_tensor(gold_labels),
            label_scores["gold"],
            targets,
            label_scores.get("teacher"),
        )
        loss.backward()
        ops = self.model.ops
        d_label_heads = ops.alloc3f(*scores.label_heads.shape)
        d_label_deps = ops.alloc3f(*scores.label_deps.shape)
        rows = numpy.arange(len(scores.spans))[:, None]
        for name, heads in label_runs.items():
            grad = label_scores[name].grad
            if grad is None:
                continue
            d_at_heads, d_deps = backprops[name](ops.asarray3f(grad.numpy()))
            ops.xp.add.at(d_label_heads, (rows, heads), d_at_heads)
            d_label_deps += d_deps
        d_scores = ParserScores(
            ops.asarray3f(arcs.grad.numpy()), d_label_heads, d_label_deps, scores.spans
        )
        return float(loss.detach()), d_scores

    def _span_targets(self, doc: Doc, start: int, end: int) -> Optional[dict]:
        targets = targets_for(doc, self.name, self.labels)
        if targets is None:
            return None
        try:
            k = targets.spans.index((start, end))
        except ValueError:
            raise ValueError(
                f"'{self.name}' parses tokens {start}-{end} as one sentence, but the "
                f"teacher's targets cover the sentences {targets.spans}"
            ) from None
        return {
            "arcs": targets.arcs[k],
            "labels": targets.labels[k],
            "heads": targets.heads[k],
            "objective": targets.objective,
            "method": targets.method,
            "weight": targets.weight,
            "temperature": targets.temperature,
            "memo": targets.memo.setdefault(k, {}),
        }

    def get_loss(self, examples: Iterable[Example], scores: ParserScores) -> Tuple:
        """(loss, d_scores): gold and, where a teacher's targets are on the doc, KD."""
        validate_examples(examples, "SkdParser.get_loss")
        return self._loss_and_gradients(list(examples), scores)

    def _score_arrays(self, scores: ParserScores) -> Iterable:
        return (scores.arcs, scores.label_heads, scores.label_deps)

    def _prepare_update(self, examples: List[Example]) -> None:
        for example in examples:
            self._copy_gold_sentences(example)

    def _copy_gold_sentences(self, example: Example) -> None:
        """Training parses the gold sentences where the reference has them, else
        the teacher's (the spans of its targets), else the whole doc."""
        doc = example.predicted
        if example.reference.has_annotation("SENT_START"):
            starts = example.get_aligned_sent_starts()
        else:
            targets = targets_for(doc, self.name)
            if targets is None:
                return
            firsts = {start for start, _ in targets.spans}
            starts = [i in firsts for i in range(len(doc))]
        for token, start in zip(doc, starts):
            if start is not None:
                token.is_sent_start = bool(start) or token.i == 0
