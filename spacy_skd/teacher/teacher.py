"""A teacher pipeline run on the students' tokens, turned into cache entries.

The teacher never tokenizes: it gets a `Doc` built from the student's words (and
spaces), with the gold sentence starts where the corpus has them, so its targets
line up token for token with the student's doc. Only what the exported
components need runs: components that others listen to (`tok2vec`,
`transformer`), the sentence setters when a doc comes without sentences, and the
exported components themselves, whose scores are read instead of their output.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

import numpy
import spacy
import torch
from spacy.language import Language
from spacy.pipeline import SentenceRecognizer, Sentencizer
from spacy.tokens import Doc
from thinc.api import Model

from ..random_state import kept_random_states
from ..targets import to_entry
from .cache import Entry, doc_key
from .exporters import can_export, export
from .hidden import pooled_hidden_states

HIDDEN = "hidden"


def load_teacher(name: str | Path) -> Language:
    """The teacher pipeline from a directory or an installed package name, with a
    clear error when it is neither."""
    try:
        return spacy.load(name)
    except OSError as error:
        raise ValueError(
            f"cannot load the teacher {str(name)!r}: it is not a spaCy pipeline directory "
            f"or an installed pipeline package ({error})"
        ) from None


def fingerprint(nlp: Language) -> str:
    """A hash of the teacher that is the same in every process that loads it: its
    config, each component's settings and labels, and its model's weights.

    A component's weights are hashed from its parameters, not from `to_bytes`:
    spacy-transformers' `to_bytes` differs from one load to the next (it writes the
    tokenizer through a temporary folder), which would give every process its own
    fingerprint and make a cache filled by `annotate` useless to `distill`."""
    digest = hashlib.sha256(nlp.config.to_str().encode("utf8"))
    for name, pipe in nlp.pipeline:
        digest.update(name.encode("utf8"))
        model = getattr(pipe, "model", None)
        if isinstance(model, Model):
            if hasattr(pipe, "to_bytes"):
                digest.update(pipe.to_bytes(exclude=["vocab", "model"]))
            _update_with_weights(digest, model)
        elif hasattr(pipe, "to_bytes"):
            digest.update(pipe.to_bytes(exclude=["vocab"]))
    return digest.hexdigest()


def _update_with_weights(digest, model: Model) -> None:
    """Feed every parameter of `model` (Thinc params and the state of PyTorch
    shims), in walk order, into `digest`."""
    for position, node in enumerate(model.walk()):
        for param in node.param_names:
            if node.has_param(param):
                digest.update(f"{position}:{node.name}:{param}".encode())
                values = node.ops.to_numpy(node.get_param(param))
                digest.update(numpy.ascontiguousarray(values).tobytes())
        for shim in node.shims:
            module = getattr(shim, "_model", None)
            if isinstance(module, torch.nn.Module):
                for key, tensor in module.state_dict().items():
                    digest.update(key.encode("utf8"))
                    digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())


class Teacher:
    """Runs `nlp` and exports the scores of every component that has some (see
    `exporters.can_export`) and, when `hidden_layers` is not empty, those
    transformer layers pooled to tokens.

    All exportable components are exported whatever a run distils, so one cache
    (e.g. filled by `spacy-skd annotate`) serves every choice of students; their
    output layers are small next to the encoder that feeds them.
    top_k, dense_up_to: how a parser's arcs are stored (see `exporters`).
    """

    def __init__(
        self,
        nlp: Language,
        hidden_layers: Sequence[int] = (),
        *,
        top_k: int = 8,
        dense_up_to: int = 64,
    ):
        self.nlp = nlp
        self.components = tuple(name for name, pipe in nlp.pipeline if can_export(pipe))
        if not self.components and not hidden_layers:
            raise ValueError(
                f"the teacher has nothing to teach: none of its components {nlp.pipe_names} "
                "exports scores (skd_* components, tagger, morphologizer, senter)"
            )
        self.hidden_layers = tuple(hidden_layers)
        self.top_k = top_k
        self.dense_up_to = dense_up_to
        self._fingerprint: Optional[str] = None

    @property
    def fingerprint(self) -> str:
        """The teacher's hash, with what it is asked to export."""
        if self._fingerprint is None:
            digest = hashlib.sha256(fingerprint(self.nlp).encode())
            digest.update(repr((self.components, self.hidden_layers)).encode())
            digest.update(repr((self.top_k, self.dense_up_to)).encode())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def doc_for(self, doc: Doc, sent_starts: Optional[Sequence[Optional[bool]]] = None) -> Doc:
        """A teacher doc with `doc`'s words and spaces, and the given sentence
        starts (None: the teacher's own sentence setters decide)."""
        words = [token.text for token in doc]
        spaces = [bool(token.whitespace_) for token in doc]
        starts = None
        if sent_starts is not None and len(doc):
            starts = [bool(s) for s in sent_starts]
            starts[0] = True
        return Doc(self.nlp.vocab, words=words, spaces=spaces, sent_starts=starts)

    def key(self, doc: Doc) -> str:
        """The cache key of a teacher doc made by `doc_for`."""
        starts = [token.is_sent_start is True for token in doc]
        return doc_key(self.fingerprint, [token.text for token in doc], starts)

    def key_for(self, doc: Doc, sent_starts: Optional[Sequence[Optional[bool]]] = None) -> str:
        """`key(doc_for(doc, sent_starts))`, without making the teacher doc when
        the sentence starts are given (a doc found in the cache needs none)."""
        if sent_starts is None:
            return self.key(self.doc_for(doc))
        starts = [bool(s) for s in sent_starts]
        if starts:
            starts[0] = True
        return doc_key(self.fingerprint, [token.text for token in doc], starts)

    def annotate(self, docs: List[Doc]) -> List[Entry]:
        """One cache entry per teacher doc (made by `doc_for`). The random
        generators are left as they were, so a student trains the same whether
        its targets come from the cache or from this run."""
        with kept_random_states():
            return self._annotate(docs)

    def _annotate(self, docs: List[Doc]) -> List[Entry]:
        entries: List[Dict[str, numpy.ndarray]] = [{} for _ in docs]
        exported = [self.nlp.pipe_names.index(name) for name in self.components]
        last = max(exported, default=len(self.nlp.pipeline) - 1)
        for position, (name, pipe) in enumerate(self.nlp.pipeline):
            if position > last:
                break
            if name in self.components:
                for entry, targets in zip(entries, export(pipe, docs)):
                    entry.update(to_entry(name, targets, self.top_k, self.dense_up_to))
            elif self._needed(pipe, docs):
                docs = list(pipe.pipe(docs)) if hasattr(pipe, "pipe") else [pipe(d) for d in docs]
        for entry, doc in zip(entries, docs):
            if self.hidden_layers:
                for layer, state in zip(
                    self.hidden_layers, pooled_hidden_states(doc, self.hidden_layers)
                ):
                    entry[f"{HIDDEN}.{layer}"] = state
        return entries

    @staticmethod
    def _needed(pipe, docs: Iterable[Doc]) -> bool:
        """Whether a component that is not exported must run: one that others
        listen to (tok2vec, transformer), or a sentence setter for docs that have
        no sentences yet."""
        if hasattr(pipe, "listeners"):
            return True
        if isinstance(pipe, (SentenceRecognizer, Sentencizer)):
            return any(len(d) > 1 and not d.has_annotation("SENT_START") for d in docs)
        return False
