"""KD for spaCy's own components as students (see docs/methods.md), without
editing spaCy.

- `tagger`, `morphologizer`, `senter` (softmax outputs): `add_token_kd` wraps the
  instance's `get_loss`, so its gradient becomes `(1 - alpha) * gold + alpha * KD`
  per doc with targets: token KD (the teacher's per-token distribution: softmax
  of its logits, or a CRF teacher's marginals, at temperature T) or hard (the
  teacher's best sequence). The wrapper lives on the instance in memory only:
  the saved component is spaCy's, unchanged.
- `parser`, `ner` (transition-based): `write_silver` writes the teacher's best
  tree or entities into an example's reference where its gold has none (same
  tokens only), so they learn from the teacher as from gold ("hard" targets).
  The silver labels are the teacher's label names, as gold would be (spaCy's
  parser folds labels rarer than its min_action_freq into "dep" itself).
"""

from __future__ import annotations

from typing import Callable

import numpy
import torch
from spacy.attrs import DEP, HEAD
from spacy.pipeline import DependencyParser, EntityRecognizer
from spacy.tokens import Span
from spacy.training import Example

from ..arrays import to_numpy
from ..methods import STOCK_TOKEN_METHODS, summed_kd_loss
from ..structs import TokenSoftmax
from ..targets import ArcTargets, EntityTargets, SequenceTargets, targets_for
from .ner import tags_to_spans
from .sequence_loss import teacher_distribution


def teacher_best(targets: SequenceTargets) -> numpy.ndarray:
    """`[n]` the teacher's best label ids: argmax, or Viterbi for a CRF."""
    like = torch.zeros(1, *targets.scores.shape, dtype=torch.float64)
    lengths = torch.tensor([len(targets.scores)])
    return teacher_distribution([targets], like, lengths).argmax[0].numpy()


def add_token_kd(pipe) -> None:
    """Make spaCy's tagger, morphologizer or senter `pipe` learn from the targets
    on each doc (`doc._.skd_targets[pipe.name]`, method "token" or "hard")."""
    original: Callable = pipe.get_loss

    def get_loss(examples, scores):
        examples = list(examples)
        loss, d_scores = original(examples, scores)
        d_scores = list(d_scores)
        for i, example in enumerate(examples):
            targets = targets_for(example.predicted, pipe.name, tuple(pipe.labels))
            if targets is None or targets.weight == 0 or not len(example.predicted):
                continue
            kd_grad, kd_value = token_kd(to_numpy(scores[i], dtype="float64"), targets)
            kd_grad = pipe.model.ops.asarray(kd_grad)
            alpha = targets.weight
            d_scores[i] = ((1 - alpha) * d_scores[i] + alpha * kd_grad).astype(d_scores[i].dtype)
            loss += alpha * kd_value
        return loss, d_scores

    pipe.get_loss = get_loss


def token_kd(probabilities: numpy.ndarray, targets: SequenceTargets) -> tuple:
    """(gradient `[n, L]` w.r.t. the student's logits, loss) of token or hard KD,
    summed over tokens; `probabilities` `[n, L]` are the student's (its softmax in
    training), whose logs are logits of the same softmax."""
    if targets.method not in STOCK_TOKEN_METHODS:
        raise ValueError(
            f"spaCy's own components learn from teachers by {STOCK_TOKEN_METHODS}, "
            f"not {targets.method!r}"
        )
    log_p = numpy.log(numpy.clip(probabilities, 1e-30, None))
    logits = torch.as_tensor(log_p, dtype=torch.float64)[None].requires_grad_()
    lengths = torch.tensor([len(probabilities)])
    student = TokenSoftmax(logits, lengths)
    teacher = teacher_distribution([targets], logits.detach(), lengths)
    loss = summed_kd_loss(student, teacher, targets.method, targets.temperature)
    loss.backward()
    return logits.grad[0].numpy(), float(loss.detach())


def write_silver(example: Example, pipe, targets) -> bool:
    """Write the teacher's best tree (for a stock `parser`) or entities (for a
    stock `ner`) into the example's reference where it has none and its tokens
    are the predicted doc's; True when something was written."""
    reference, predicted = example.reference, example.predicted
    if [t.text for t in reference] != [t.text for t in predicted] or not len(reference):
        return False
    if isinstance(pipe, DependencyParser) and isinstance(targets, ArcTargets):
        if reference.has_annotation("DEP"):
            return False
        _set_tree(reference, targets)
        return True
    if isinstance(pipe, EntityRecognizer) and isinstance(targets, (SequenceTargets, EntityTargets)):
        if reference.has_annotation("ENT_IOB"):
            return False
        if isinstance(targets, EntityTargets):
            spans = [Span(reference, s, e, label=label) for s, e, label in targets.entities]
        else:
            spans = tags_to_spans(reference, [targets.labels[i] for i in teacher_best(targets)])
        reference.set_ents(spans, default="outside")
        return True
    return False


def _set_tree(doc, targets: ArcTargets) -> None:
    heads = numpy.zeros(len(doc), dtype="int64")
    deps = numpy.zeros(len(doc), dtype="uint64")
    for (start, end), span_heads, labels in zip(targets.spans, targets.heads, targets.labels):
        for offset in range(end - start):
            head = int(span_heads[offset])
            heads[start + offset] = 0 if head == 0 else head - 1 - offset
            label = "ROOT" if head == 0 else targets.label_names[int(labels[offset].argmax())]
            deps[start + offset] = doc.vocab.strings.add(label)
    doc.from_array([HEAD, DEP], numpy.stack([heads.astype("uint64"), deps], 1))
