"""skd_tagger: a sequence labeller with a softmax or linear-chain CRF output
layer that learns from gold labels and, when a teacher's targets are on the
doc, from the teacher in the same loss. Its label-agnostic part is
`SequenceLabeller` (`labeller.py`), which skd_ner (`ner.py`) shares."""

from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional

import numpy
from spacy.language import Language
from spacy.parts_of_speech import IDS as POS_IDS
from spacy.tokens import Doc, Token
from spacy.training import Example
from spacy.util import registry
from spacy.vocab import Vocab
from thinc.api import Config, Model

from .labeller import SequenceLabeller

DEFAULT_TAGGER_MODEL = """
[model]
@architectures = "spacy-skd.Tagger.v1"
nO = null
output_layer = "softmax"

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

BUILT_IN_ATTRS = {"tag": "TAG", "pos": "POS"}
# UPOS and morphological features as one label, "POS=NOUN|Number=Sing", as
# spaCy's morphologizer predicts them
POS_MORPH = "pos+morph"


def check_attr(attr: str) -> str:
    """`attr` names what the tagger predicts: "tag" (token.tag_), "pos"
    (token.pos_), "pos+morph" (token.pos_ and token.morph, one joint label) or
    "_.name" (a token extension, registered by the user)."""
    if attr in BUILT_IN_ATTRS or attr == POS_MORPH:
        return attr
    if attr.startswith("_.") and len(attr) > 2:
        return attr
    raise ValueError(f"attr must be 'tag', 'pos', '{POS_MORPH}' or '_.<extension>', got {attr!r}")


def pos_morph_label(pos: str, morph: str) -> Optional[str]:
    """The label "POS=<pos>|<features>", or None without a POS (features alone are not a
    label); an empty morph is "" or "_"."""
    if not pos:
        return None
    return f"POS={pos}" if morph in ("", "_") else f"POS={pos}|{morph}"


def get_label(token: Token, attr: str) -> Optional[str]:
    """The token's value of the extension `attr` ("_.name"), None when it is
    missing ("" or unset). The built-in attrs go through Doc arrays instead."""
    return token._.get(attr[2:]) or None


def set_label(token: Token, attr: str, value: str) -> None:
    token._.set(attr[2:], value)


def gold_labels(example: Example, attr: str) -> List[Optional[str]]:
    """Per predicted token, its gold value of `attr`, None where the reference has
    none or the tokens do not align one-to-one."""
    if attr in BUILT_IN_ATTRS:
        values = example.get_aligned(BUILT_IN_ATTRS[attr], as_string=True)
        return [value or None for value in values]
    if attr == POS_MORPH:
        pos = example.get_aligned("POS", as_string=True)
        morph = example.get_aligned("MORPH", as_string=True)
        return [pos_morph_label(p or "", m or "") for p, m in zip(pos, morph)]
    aligned = example.alignment.x2y
    labels: List[Optional[str]] = []
    for i in range(len(example.predicted)):
        targets = numpy.asarray(aligned[i]).ravel()
        labels.append(
            get_label(example.reference[int(targets[0])], attr) if len(targets) == 1 else None
        )
    return labels


@Language.factory(
    "skd_tagger",
    assigns=["token.tag", "token.pos", "token.morph"],
    default_config={
        "model": Config().from_str(DEFAULT_TAGGER_MODEL)["model"],
        "attr": "tag",
        "overwrite": False,
        "scorer": {"@scorers": "spacy-skd.tagger_scorer.v1"},
        "learn_rate_scale": 1.0,
        "label_smoothing": 0.0,
    },
    default_score_weights={"tag_acc": 1.0, "pos_acc": None},
)
def make_tagger(
    nlp: Language,
    name: str,
    model: Model,
    attr: str,
    overwrite: bool,
    scorer: Optional[Callable],
    learn_rate_scale: float,
    label_smoothing: float,
) -> SkdTagger:
    """Create an skd_tagger.

    model: a model producing label scores per token (spacy-skd.Tagger.v1); its
    `output_layer` ("softmax" or "crf") decides the decoding and the losses.
    attr: "tag" (token.tag_), "pos" (token.pos_), "pos+morph" (token.pos_ and
    token.morph from one joint label, like spaCy's morphologizer) or
    "_.<extension>".
    overwrite: overwrite values already set on the docs.
    scorer: scores `<attr>_acc` (spacy-skd.tagger_scorer.v1); for "pos+morph"
    `pos_acc`, `morph_acc` and `morph_per_feat`.
    learn_rate_scale: multiplies the optimizer's learning rate for this
    component's own parameters (not for a tok2vec or transformer it listens to):
    a transformer's fresh output layers learn too slowly at its fine-tuning rate.
    label_smoothing: e in [0, 1) for the gold targets of a softmax output layer
    (1 - e on the gold label, e / (L - 1) on each other), as spaCy's tagger and
    morphologizer have (0.05 in their default configs); the KD targets are not
    smoothed.
    """
    return SkdTagger(
        nlp.vocab,
        model,
        name,
        attr=attr,
        overwrite=overwrite,
        scorer=scorer,
        learn_rate_scale=learn_rate_scale,
        label_smoothing=label_smoothing,
    )


class SkdTagger(SequenceLabeller):
    """Predicts one label per token; trains on gold and on teacher targets."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "skd_tagger",
        *,
        attr: str = "tag",
        overwrite: bool = False,
        scorer: Optional[Callable] = None,
        learn_rate_scale: float = 1.0,
        label_smoothing: float = 0.0,
    ):
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing}")
        if label_smoothing and model.attrs["output_layer"] == "crf":
            raise ValueError(
                f"'{name}': label_smoothing applies to a softmax output layer, not a CRF"
            )
        super().__init__(
            vocab,
            model,
            name,
            scorer=scorer,
            attr=check_attr(attr),
            overwrite=overwrite,
            learn_rate_scale=learn_rate_scale,
            label_smoothing=label_smoothing,
        )

    @property
    def attr(self) -> str:
        return self.cfg["attr"]

    @property
    def tag_names(self) -> tuple:
        """The tags are the labels."""
        return self.labels

    def _labels_in(self, examples: Iterable[Example]) -> List[str]:
        found = set()
        for example in examples:
            found.update(v for v in gold_labels(example, self.attr) if v is not None)
        return sorted(found)

    def _no_labels_message(self) -> str:
        return (
            f"'{self.name}' found no labels for attr '{self.attr}' in the training "
            "data: the corpus has no annotation of it, or attr is wrong"
        )

    def _gold_tags(self, example: Example) -> List[Optional[str]]:
        return gold_labels(example, self.attr)

    def set_annotations(self, docs: Iterable[Doc], label_ids: List[numpy.ndarray]) -> None:
        if not self.attr.startswith("_."):
            self._set_through_arrays(docs, label_ids)
            return
        overwrite = self.cfg["overwrite"]
        labels = self.labels
        for doc, ids in zip(docs, label_ids):
            for token, label_id in zip(doc, ids):
                if overwrite or get_label(token, self.attr) is None:
                    set_label(token, self.attr, labels[int(label_id)])

    def _array_values(self) -> tuple:
        """The Doc attributes the labels set, and per label their values
        `[n_labels, n_attrs]`; a token counts as unset when its first is 0."""
        if self.attr == "tag":
            return ["TAG"], [[self.vocab.strings.add(label)] for label in self.labels]
        if self.attr == "pos":
            return ["POS"], [[POS_IDS[label]] for label in self.labels]
        values = []
        for label in self.labels:
            pos, _, morph = label.partition("|")
            values.append([POS_IDS[pos[len("POS=") :]], self.vocab.morphology.add(morph)])
        return ["POS", "MORPH"], values

    def _set_through_arrays(self, docs: Iterable[Doc], label_ids: List[numpy.ndarray]) -> None:
        """token.tag / token.pos (and token.morph) through Doc arrays, not token
        by token."""
        attrs, values = self._array_values()
        values = numpy.asarray(values, dtype="uint64")
        for doc, ids in zip(docs, label_ids):
            if not len(doc):
                continue
            new = values[numpy.asarray(ids, dtype="int64")]
            if not self.cfg["overwrite"]:
                old = doc.to_array(attrs).reshape(len(doc), len(attrs))
                new = numpy.where(old[:, :1] == 0, new, old)
            doc.from_array(attrs, new)


@registry.scorers("spacy-skd.tagger_scorer.v1")
def make_tagger_scorer() -> Callable:
    """Scores `<attr>_acc` (`tag_acc`, `pos_acc`, or `<extension>_acc`) like spaCy's
    tagger scorer; "pos+morph" like spaCy's morphologizer scorer (`pos_acc`,
    `morph_acc`, `morph_per_feat`)."""
    return score_tagger


def _morph_key(token: Token, attr: str) -> int:
    return getattr(token, attr).key


def score_tagger(examples: Iterable[Example], *, attr: str = "tag", **kwargs) -> Dict:
    from spacy.scorer import Scorer

    if attr == POS_MORPH:
        examples = list(examples)
        scores = Scorer.score_token_attr(examples, "pos", **kwargs)
        for score in (Scorer.score_token_attr, Scorer.score_token_attr_per_feat):
            scores.update(score(examples, "morph", getter=_morph_key, **kwargs))
        return scores
    if attr.startswith("_."):
        name = attr[2:]
        scores = Scorer.score_token_attr(
            examples, name, getter=lambda token, _: token._.get(name), **kwargs
        )
        return scores
    return Scorer.score_token_attr(examples, attr, **kwargs)
