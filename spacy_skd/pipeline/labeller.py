"""`SequenceLabeller`: the shared part of skd_tagger and skd_ner, one tag per
token from a spacy-skd.Tagger.v1 model (softmax or CRF output layer), trained on
gold and on a teacher's targets in one loss (`sequence_loss.py`)."""

from __future__ import annotations

from itertools import islice
from typing import Callable, Iterable, List, Optional

import numpy
import torch
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Model
from thinc.types import Floats2d

from ..arrays import to_numpy
from ..structs import LinearChainCRF
from ..targets import SequenceTargets, targets_for
from .base import LabelledPipe
from .sequence_loss import sequence_loss


class SequenceLabeller(LabelledPipe):
    """The shared part of skd_tagger and skd_ner: one tag per token from a
    spacy-skd.Tagger.v1 model (softmax or CRF output layer), trained on gold and
    on teacher targets (`doc._.skd_targets[name]`) in one loss.

    Subclasses say what the tags mean: `tag_names` (the model's output classes,
    derived from `labels`), `_labels_in`, `_no_labels_message`, `_gold_tags` and
    `set_annotations`; `_decoding_crf` may add decoding constraints.
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str,
        *,
        scorer: Optional[Callable] = None,
        **cfg,
    ):
        self.vocab = vocab
        self.model = model
        self.name = name
        self._rehearsal_model = None
        self.cfg = {"labels": [], **cfg}
        self.scorer = scorer

    @property
    def tag_names(self) -> tuple:
        """The names of the model's output classes, in score order."""
        raise NotImplementedError

    @property
    def is_crf(self) -> bool:
        return self.model.attrs["output_layer"] == "crf"

    def _is_sized(self) -> bool:
        return self.model.get_ref("output_layer").has_dim("nO")

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Iterable[str]] = None,
    ) -> None:
        """Set the labels (given, or every label the examples' gold holds) and
        the model's shapes."""
        validate_get_examples(get_examples, f"{type(self).__name__}.initialize")
        if labels is None:
            labels = self._labels_in(get_examples())
        for label in labels:
            self.add_label(label)
        if not self.labels:
            raise ValueError(self._no_labels_message())
        self.model.get_ref("output_layer").set_dim("nO", len(self.tag_names))
        if self.is_crf:
            self.model.get_ref("transitions").set_dim("nO", len(self.tag_names))
        doc_sample = [eg.reference for eg in islice(get_examples(), 10)]
        self.model.initialize(X=doc_sample)

    def _labels_in(self, examples: Iterable[Example]) -> List[str]:
        """The sorted labels that the examples' gold holds."""
        raise NotImplementedError

    def _no_labels_message(self) -> str:
        """The error initialize raises when it finds no labels."""
        raise NotImplementedError

    def _gold_tags(self, example: Example) -> List[Optional[str]]:
        """Per predicted token, its gold tag (one of `tag_names`), None where
        missing; a tag not in `tag_names` counts as missing too."""
        raise NotImplementedError

    def _crf_params(self) -> tuple:
        layer = self.model.get_ref("transitions")
        return tuple(
            torch.as_tensor(to_numpy(layer.get_param(name)), dtype=torch.float32)
            for name in ("transitions", "start", "end")
        )

    def _decoding_crf(self) -> Optional[tuple]:
        """The (transitions `[T, T]`, start `[T]`, end `[T]`) scores that `decode`
        runs Viterbi with, or None for a per-token argmax: the CRF's parameters,
        None for a softmax output layer."""
        return self._crf_params() if self.is_crf else None

    def predict(self, docs: Iterable[Doc]) -> List[numpy.ndarray]:
        """Tag ids per doc (see `decode`)."""
        docs = list(docs)
        if not any(len(doc) for doc in docs):
            return [numpy.zeros((len(doc),), dtype="i") for doc in docs]
        return self.decode(self.model.predict(docs))

    def decode(self, scores: List[Floats2d]) -> List[numpy.ndarray]:
        """Tag ids per doc from its scores `[n_tokens, len(tag_names)]`: Viterbi
        with the `_decoding_crf` scores, or a per-token argmax where it is None."""
        crf = self._decoding_crf()
        if crf is None:
            return [to_numpy(s).argmax(axis=1) for s in scores]
        tags = [numpy.zeros((0,), dtype="i") for _ in scores]
        if not any(len(s) for s in scores):
            return tags
        padded, lengths, real = self._pad(scores)
        transitions, start, end = crf
        with torch.no_grad():
            best = LinearChainCRF(padded, transitions, lengths, start, end).argmax
        for row, i in enumerate(real):
            tags[i] = best[row, : int(lengths[row])].numpy()
        return tags

    def teacher_targets(
        self,
        docs: Iterable[Doc],
        *,
        method: str = "structural",
        weight: float = 0.5,
        temperature: float = 1.0,
    ) -> List[SequenceTargets]:
        """This component's scores on `docs` as a teacher's targets
        (`spacy_skd.targets`), columns named by `tag_names`: per doc the logits or emissions
        `[n_tokens, T]`, and, where decoding uses them, the transition, start and
        end scores it decodes with (a CRF's, with any decoding constraints)."""
        docs = list(docs)
        n_tags = len(self.tag_names)
        if any(len(doc) for doc in docs):
            scores = self.model.predict(docs)
        else:
            scores = [numpy.zeros((0, n_tags), dtype="f") for _ in docs]
        crf = self._decoding_crf()
        names = ("transitions", "start", "end")
        params = {} if crf is None else {n: p.numpy() for n, p in zip(names, crf)}
        return [
            SequenceTargets(
                to_numpy(s, dtype="float32").reshape(-1, n_tags),
                method=method,
                weight=weight,
                temperature=temperature,
                labels=self.tag_names,
                **params,
            )
            for s in scores
        ]

    def _pad(self, scores: List) -> tuple:
        """Padded float32 scores `[B, N, L]`, lengths `[B]` and the doc indices of
        the non-empty docs they hold."""
        real = [i for i, s in enumerate(scores) if len(s)]
        arrays = [to_numpy(scores[i], dtype="float32") for i in real]
        lengths = torch.tensor([len(a) for a in arrays])
        padded = torch.zeros(len(arrays), int(lengths.max()), arrays[0].shape[1])
        for row, array in enumerate(arrays):
            padded[row, : len(array)] = torch.from_numpy(array)
        return padded, lengths, real

    def _loss_and_gradients(self, examples: List[Example], scores: List) -> tuple:
        """(loss, d_scores per doc, d_crf_params or None), by one torch backward."""
        padded, lengths, real = self._pad(scores)
        padded.requires_grad_()
        index = {tag: i for i, tag in enumerate(self.tag_names)}
        gold = torch.full(padded.shape[:2], -1, dtype=torch.long)
        for row, i in enumerate(real):
            values = self._gold_tags(examples[i])
            gold[row, : len(values)] = torch.tensor([index.get(v, -1) for v in values])
        targets = [targets_for(examples[i].predicted, self.name, self.tag_names) for i in real]
        crf = tuple(p.requires_grad_() for p in self._crf_params()) if self.is_crf else None
        smoothing = self.cfg.get("label_smoothing", 0.0)
        loss = sequence_loss(padded, lengths, crf, gold, targets, label_smoothing=smoothing)
        loss.backward()
        d_scores = [self.model.ops.alloc2f(*s.shape) for s in scores]
        for row, i in enumerate(real):
            d_scores[i] = self.model.ops.asarray2f(padded.grad[row, : int(lengths[row])].numpy())
        d_crf = None if crf is None else [p.grad.numpy() for p in crf]
        return float(loss.detach()), d_scores, d_crf

    def get_loss(self, examples: Iterable[Example], scores: List) -> tuple:
        """(loss, d_scores): gold and, where a teacher's targets are on the doc, KD."""
        validate_examples(examples, f"{type(self).__name__}.get_loss")
        loss, d_scores, _ = self._loss_and_gradients(list(examples), scores)
        return loss, d_scores

    def _backprop_loss(self, examples: List[Example], scores: List) -> tuple:
        loss, d_scores, d_crf = self._loss_and_gradients(examples, scores)
        if d_crf is not None:
            layer = self.model.get_ref("transitions")
            for name, grad in zip(("transitions", "start", "end"), d_crf):
                layer.inc_grad(name, self.model.ops.asarray(grad))
        return loss, d_scores
