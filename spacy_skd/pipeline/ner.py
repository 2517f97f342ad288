"""skd_ner: a named-entity recogniser as a sequence labeller over BIO or BILUO
tags, with a linear-chain CRF (default) or softmax output layer, that learns
from gold entities and, when a teacher's targets are on the doc, from the
teacher in the same loss. It shares its model (spacy-skd.Tagger.v1), loss and
training loop with skd_tagger (`SequenceLabeller`, `labeller.py`).

Tags. `tag_names(labels, scheme)`: O = 0, then per entity label e (the labels
sorted) BIO: B-e = 1 + 2e, I-e = 2 + 2e; BILUO: B-e = 1 + 4e, I-e = 2 + 4e,
L-e = 3 + 4e, U-e = 4 + 4e: `spacy_skd.structs.SemiMarkovCRF`'s order, so the
tag marginals of a span/entity teacher line up with the student's tags.

Missing annotation. A token whose gold entity tag is unknown (the reference
token's `ent_iob_` is "", the tokens do not align, or the gold label is not one
of `labels`) is missing (-1 in the gold tensor), never O: the CRF's partial-label
likelihood marginalises it out, the softmax's cross-entropy skips it.

Decoding. Training uses the unconstrained CRF (so a teacher with mass on
invalid sequences still gives finite KD losses); decoding adds transition
constraints: Viterbi with forbidden start, transition and end scores at -inf
(`transition_constraints`), for the softmax output layer too (its logits as
emissions, transitions 0 where allowed). The best valid tag sequence comes out,
never a repaired one.
"""

from __future__ import annotations

from typing import Callable, Iterable, List, Optional, Sequence, Tuple

import numpy
import torch
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.vocab import Vocab
from thinc.api import Config, Model

from ..structs.semi_markov import SCHEMES
from .labeller import SequenceLabeller
from .tagger import DEFAULT_TAGGER_MODEL

# The tagger's default model with a CRF output layer.
DEFAULT_NER_MODEL = Config().from_str(DEFAULT_TAGGER_MODEL)["model"]
DEFAULT_NER_MODEL["output_layer"] = "crf"


def check_scheme(scheme: str) -> str:
    """`scheme` if it is "BIO" or "BILUO", else a ValueError."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {sorted(SCHEMES)}, got {scheme!r}")
    return scheme


def tag_names(labels: Sequence[str], scheme: str) -> Tuple[str, ...]:
    """The tags of entity `labels` (already sorted) in `scheme`, in index order:
    "O", then "B-<label>", "I-<label>" (and "L-<label>", "U-<label>" for BILUO)
    per label."""
    kinds = SCHEMES[check_scheme(scheme)]
    return ("O",) + tuple(f"{kind}-{label}" for label in labels for kind in kinds)


def transition_constraints(tags: Sequence[str], scheme: str) -> Tuple[numpy.ndarray, ...]:
    """Which tag sequences are valid in `scheme`, as boolean masks: allowed
    transitions `[T, T]` (`[previous, next]`), allowed first tags `[T]` and
    allowed last tags `[T]`.

    I-x (and L-x in BILUO) continues an entity: it must follow B-x or I-x, so it
    never comes first. In BILUO, B-x and I-x leave an entity open: I-x or L-x
    must follow, so they never come last.
    """
    check_scheme(scheme)
    kinds = numpy.array([tag[0] for tag in tags])
    labels = numpy.array([tag[2:] for tag in tags])
    continues = numpy.isin(kinds, ("I", "L"))
    inside = numpy.isin(kinds, ("B", "I"))
    left_open = inside if scheme == "BILUO" else numpy.zeros_like(inside)
    same_label = labels[:, None] == labels[None, :]
    allowed = numpy.where(continues[None, :], inside[:, None] & same_label, ~left_open[:, None])
    return allowed, ~continues, ~left_open


def gold_tags(example: Example, scheme: str) -> List[Optional[str]]:
    """Per predicted token, its gold entity tag in `scheme` from the reference's
    entities through the alignment (`Example.get_aligned_ner`), None where the
    annotation is missing or the tokens do not align."""
    tags = []
    for tag in example.get_aligned_ner():
        if not tag or tag == "-":
            tags.append(None)
        elif scheme == "BIO" and tag[0] in ("L", "U"):
            tags.append(("I" if tag[0] == "L" else "B") + tag[1:])
        else:
            tags.append(tag)
    return tags


def tags_to_spans(doc: Doc, tags: Sequence[str]) -> List[Span]:
    """The entity spans of a valid BIO or BILUO tag sequence: an entity opens at
    B-x or U-x and takes the I-x and L-x tags that follow."""
    spans = []
    start = None
    for i, tag in enumerate(list(tags) + ["O"]):
        if start is not None and tag[0] not in ("I", "L"):
            spans.append(Span(doc, start, i, label=tags[start][2:]))
            start = None
        if tag[0] in ("B", "U"):
            start = i
    return spans


@Language.factory(
    "skd_ner",
    assigns=["doc.ents", "token.ent_iob", "token.ent_type"],
    default_config={
        "model": DEFAULT_NER_MODEL,
        "scheme": "BILUO",
        "scorer": {"@scorers": "spacy.ner_scorer.v1"},
        "learn_rate_scale": 1.0,
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_ner(
    nlp: Language,
    name: str,
    model: Model,
    scheme: str,
    scorer: Optional[Callable],
    learn_rate_scale: float,
) -> SkdNer:
    """Create an skd_ner.

    model: a model producing one score per tag and token (spacy-skd.Tagger.v1);
    its `output_layer`, "crf" (default) or "softmax", decides the losses; both
    decode with Viterbi under the scheme's constraints.
    scheme: the tag scheme, "BILUO" (default) or "BIO"; a teacher's targets must
    use the same scheme and tag order (see `tag_names`).
    scorer: scores `ents_p`, `ents_r`, `ents_f` and `ents_per_type`
    (spacy.ner_scorer.v1, spaCy's NER scorer).
    learn_rate_scale: multiplies the optimizer's learning rate for this
    component's own parameters (not for a tok2vec or transformer it listens to):
    a transformer's fresh output layers learn too slowly at its fine-tuning rate.
    """
    return SkdNer(
        nlp.vocab, model, name, scheme=scheme, scorer=scorer, learn_rate_scale=learn_rate_scale
    )


class SkdNer(SequenceLabeller):
    """Predicts entities as BIO/BILUO tags and sets `doc.ents`; trains on gold
    entities and on teacher targets. `labels` are the entity labels, kept sorted;
    the tags (`tag_names`) are derived from them."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "skd_ner",
        *,
        scheme: str = "BILUO",
        scorer: Optional[Callable] = None,
        learn_rate_scale: float = 1.0,
    ):
        super().__init__(
            vocab,
            model,
            name,
            scorer=scorer,
            scheme=check_scheme(scheme),
            learn_rate_scale=learn_rate_scale,
        )

    @property
    def scheme(self) -> str:
        return self.cfg["scheme"]

    @property
    def tag_names(self) -> tuple:
        return tag_names(self.labels, self.scheme)

    def add_label(self, label: str) -> int:
        """Add an entity label (before initialize); the labels stay sorted."""
        added = super().add_label(label)
        self.cfg["labels"].sort()
        return added

    def _labels_in(self, examples: Iterable[Example]) -> List[str]:
        return sorted({ent.label_ for example in examples for ent in example.reference.ents})

    def _no_labels_message(self) -> str:
        return (
            f"'{self.name}' found no entity labels in the training data: no reference "
            "doc has an entity; annotate some, or pass the labels to initialize"
        )

    def _gold_tags(self, example: Example) -> List[Optional[str]]:
        return gold_tags(example, self.scheme)

    def _decoding_crf(self) -> tuple:
        """The CRF's parameters (zeros for softmax) with the scheme's forbidden
        transitions, first and last tags at -inf."""
        n_tags = len(self.tag_names)
        if self.is_crf:
            params = self._crf_params()
        else:
            params = (torch.zeros(n_tags, n_tags), torch.zeros(n_tags), torch.zeros(n_tags))
        masks = transition_constraints(self.tag_names, self.scheme)
        return tuple(
            param.masked_fill(~torch.from_numpy(mask), float("-inf"))
            for param, mask in zip(params, masks)
        )

    def set_annotations(self, docs: Iterable[Doc], tag_ids: List[numpy.ndarray]) -> None:
        """Set `doc.ents` from the predicted tags; every other token is outside
        (`ent_iob_` "O"), whatever entities the doc held before."""
        names = self.tag_names
        for doc, ids in zip(docs, tag_ids):
            spans = tags_to_spans(doc, [names[int(i)] for i in ids])
            doc.set_ents(spans, default="outside")
