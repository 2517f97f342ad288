"""Thinc model of the graph-based parser: token vectors -> per-sentence arc
scores, and the hidden states from which a label classifier scores the
(head, dependent) pairs that matter (gold or teacher heads in training, the
decoded tree at inference): scoring every pair for every label would cost
O(n^2 L) per sentence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

import numpy
from spacy.tokens import Doc
from thinc.api import Linear, Model, Relu, zero_init
from thinc.types import Floats2d, Floats3d

from .biaffine import biaffine
from .distance import N_BUCKETS, bucket_one_hot, distance_scorer

Span = Tuple[int, int, int]  # (doc index, start, end) of one parsed sentence


def sentence_spans(doc: Doc, max_length: int) -> List[Tuple[int, int]]:
    """(start, end) of the stretches parsed as one tree: the doc's sentences when
    boundaries are set, else the whole doc; anything longer than `max_length`
    tokens is cut into pieces of at most `max_length`, so memory stays bounded."""
    if len(doc) == 0:
        return []
    if doc.has_annotation("SENT_START"):
        starts = [i for i, token in enumerate(doc) if i == 0 or token.is_sent_start]
    else:
        starts = [0]
    bounds = list(zip(starts, starts[1:] + [len(doc)]))
    return [
        (piece, min(piece + max_length, end))
        for start, end in bounds
        for piece in range(start, end, max_length)
    ]


@dataclass
class ParserScores:
    """The model's output for a batch of S sentences `spans`, padded to the
    longest: `arcs [S, n+1, n+1]` (`[head, dependent]`, index 0 = ROOT) and the
    label MLPs' outputs `label_heads`, `label_deps` `[S, n+1, H]` (node 0 = ROOT)
    that the "label_scorer" layer turns into label scores for chosen heads."""

    arcs: Floats3d
    label_heads: Floats3d
    label_deps: Floats3d
    spans: List[Span]

    @property
    def lengths(self) -> List[int]:
        return [end - start for _, start, end in self.spans]


def build_parser_model(
    tok2vec: Model[List[Doc], List[Floats2d]],
    nO: Optional[int] = None,
    *,
    arc_hidden_width: int = 256,
    label_hidden_width: int = 128,
    dropout: float = 0.1,
    distance: bool = True,
) -> Model[List[Doc], ParserScores]:
    """Biaffine arc and label scorer (Dozat & Manning 2017) over `tok2vec`'s
    token vectors, one sentence at a time with a learned ROOT vector in front.

    tok2vec: token-to-vector layer or listener. nO: number of dependency labels
    (set at initialize when None). arc_hidden_width, label_hidden_width: widths
    of the head/dependent MLPs (ReLU) before the biaffine arc and label scorers.
    dropout: on the MLP outputs. distance: add to each arc a score of its signed
    length (bucketed) from the head's and the dependent's arc MLP states, and
    give the label scorer the arc's bucket (direction matters: nsubj or obj),
    which position-blind encoders such as CNNs need (see `distance.py`). The longest
    stretch parsed as one tree is the attr "max_length" (see `sentence_spans`),
    which the component sets from its own config. The label scorer (ref
    "label_scorer") is applied by the component to the heads it needs.
    """
    mlps = {
        name: Relu(nO=width, dropout=dropout)
        for name, width in [
            ("arc_head", arc_hidden_width),
            ("arc_dep", arc_hidden_width),
            ("label_head", label_hidden_width),
            ("label_dep", label_hidden_width),
        ]
    }
    arc_scorer = biaffine(nO=1)
    label_scorer = pair_label_scorer(nO, distance=distance)
    arc_layers = [arc_scorer, distance_scorer()] if distance else [arc_scorer]
    model = Model(
        "skd_biaffine_parser",
        _forward,
        init=_init,
        layers=[tok2vec, *mlps.values(), *arc_layers, label_scorer],
        dims={"nO": nO},
        params={"root": None},
        attrs={"max_length": 100},
    )
    model.set_ref("tok2vec", tok2vec)
    for name, layer in mlps.items():
        model.set_ref(name, layer)
    model.set_ref("arc_scorer", arc_scorer)
    if distance:
        model.set_ref("distance_scorer", arc_layers[1])
    model.set_ref("label_scorer", label_scorer)
    return model


def _init(model: Model, X: Optional[List[Doc]] = None, Y=None) -> None:
    tok2vec = model.get_ref("tok2vec")
    tok2vec.initialize(X=X)
    vectors = tok2vec.predict(X) if X else None
    width = vectors[0].shape[1] if vectors else tok2vec.get_dim("nO")
    model.set_param("root", model.ops.alloc1f(width))
    sample = model.ops.alloc2f(2, width)
    for side in ("head", "dep"):
        for kind in ("arc", "label"):
            model.get_ref(f"{kind}_{side}").initialize(X=sample)
    arc_scorer = model.get_ref("arc_scorer")
    arc_scorer.set_dim("nI", model.get_ref("arc_head").get_dim("nO"))
    arc_scorer.initialize()
    if model.has_ref("distance_scorer"):
        distance = model.get_ref("distance_scorer")
        distance.set_dim("nI", arc_scorer.get_dim("nI"))
        distance.initialize()
    label_scorer = model.get_ref("label_scorer")
    label_scorer.set_dim("nO", model.get_dim("nO"))
    hidden = model.get_ref("label_head").get_dim("nO")
    sample = (model.ops.alloc3f(1, 2, hidden), model.ops.alloc3f(1, 2, hidden))
    label_scorer.initialize(X=(*sample, numpy.zeros((1, 2), dtype="int64")))


# Sentences go through the MLPs and the arc scorer in buckets of this many, sorted
# by length, so that short sentences are not padded to the batch's longest.
BUCKET_SIZE = 32


def _forward(model: Model, docs: List[Doc], is_train: bool) -> Tuple[ParserScores, Callable]:
    ops = model.ops
    max_length = model.attrs["max_length"]
    spans = [(i, s, e) for i, doc in enumerate(docs) for s, e in sentence_spans(doc, max_length)]
    if not spans:
        return _no_sentences(model, docs)
    vectors, backprop_tok2vec = model.get_ref("tok2vec")(docs, is_train)
    root = model.get_param("root")
    n_nodes = 1 + max(e - s for _, s, e in spans)
    hidden_width = model.get_ref("label_head").get_dim("nO")
    arcs = ops.alloc3f(len(spans), n_nodes, n_nodes)
    label_heads = ops.alloc3f(len(spans), n_nodes, hidden_width)
    label_deps = ops.alloc3f(len(spans), n_nodes, hidden_width)
    by_length = sorted(range(len(spans)), key=lambda k: spans[k][2] - spans[k][1])
    buckets = []
    for first in range(0, len(by_length), BUCKET_SIZE):
        rows = by_length[first : first + BUCKET_SIZE]
        size = 1 + max(spans[k][2] - spans[k][1] for k in rows)
        inputs = ops.alloc3f(len(rows), size, root.shape[0])
        inputs[:, 0] = root
        for row, k in enumerate(rows):
            i, start, end = spans[k]
            inputs[row, 1 : 1 + end - start] = vectors[i][start:end]
        flat = inputs.reshape(-1, root.shape[0])
        hidden, backprops = {}, {}
        for name in ("arc_head", "arc_dep", "label_head", "label_dep"):
            out, backprops[name] = model.get_ref(name)(flat, is_train)
            hidden[name] = out.reshape(len(rows), size, -1)
        bucket_arcs, backprop_arcs = model.get_ref("arc_scorer")(
            (hidden["arc_head"], hidden["arc_dep"]), is_train
        )
        bucket_arcs = bucket_arcs[..., 0]
        backprop_distance = None
        if model.has_ref("distance_scorer"):
            distance_arcs, backprop_distance = model.get_ref("distance_scorer")(
                (hidden["arc_head"], hidden["arc_dep"]), is_train
            )
            bucket_arcs = bucket_arcs + distance_arcs
        arcs[rows, :size, :size] = bucket_arcs
        label_heads[rows, :size] = hidden["label_head"]
        label_deps[rows, :size] = hidden["label_dep"]
        buckets.append((rows, size, flat.shape, backprops, backprop_arcs, backprop_distance))

    def backprop(d_scores: ParserScores) -> List[Floats2d]:
        d_vectors = [ops.alloc2f(*v.shape) for v in vectors]
        d_root = ops.alloc1f(root.shape[0])
        for rows, size, flat_shape, backprops, backprop_arcs, backprop_distance in buckets:
            d_hidden = {
                "label_head": d_scores.label_heads[rows, :size],
                "label_dep": d_scores.label_deps[rows, :size],
            }
            d_arcs = ops.xp.ascontiguousarray(d_scores.arcs[rows, :size, :size])
            d_hidden["arc_head"], d_hidden["arc_dep"] = backprop_arcs(d_arcs[..., None])
            if backprop_distance is not None:
                d_head, d_dep = backprop_distance(d_arcs)
                d_hidden["arc_head"] = d_hidden["arc_head"] + d_head
                d_hidden["arc_dep"] = d_hidden["arc_dep"] + d_dep
            d_flat = ops.alloc2f(*flat_shape)
            for name, d_out in d_hidden.items():
                d_flat += backprops[name](
                    ops.xp.ascontiguousarray(d_out).reshape(flat_shape[0], -1)
                )
            d_inputs = d_flat.reshape(len(rows), size, -1)
            d_root += d_inputs[:, 0].sum(axis=0)
            for row, k in enumerate(rows):
                i, start, end = spans[k]
                d_vectors[i][start:end] += d_inputs[row, 1 : 1 + end - start]
        model.inc_grad("root", d_root)
        return backprop_tok2vec(d_vectors)

    return ParserScores(arcs, label_heads, label_deps, spans), backprop


def _no_sentences(model: Model, docs: List[Doc]) -> Tuple[ParserScores, Callable]:
    """The output for docs without a token: no spans, and zero gradients `[0, width]`
    per doc. The tok2vec is not run: a BiLSTM or a transformer listener fails on a
    batch in which no doc has a token."""
    ops = model.ops
    hidden_width = model.get_ref("label_head").get_dim("nO")
    width = model.get_param("root").shape[0]
    scores = ParserScores(
        ops.alloc3f(0, 1, 1), ops.alloc3f(0, 1, hidden_width), ops.alloc3f(0, 1, hidden_width), []
    )

    def backprop(d_scores: ParserScores) -> List[Floats2d]:
        return [ops.alloc2f(0, width) for _ in docs]

    return scores, backprop


def pair_label_scorer(nO: Optional[int] = None, *, distance: bool = False) -> Model:
    """Label scores `[S, n, nO]` of (head, dependent) pairs from the label MLPs'
    outputs at the heads `[S, n, H]` and at the dependents `[S, n, H]`, given with
    each dependent's head index `[S, n]` (0 = ROOT; < 0: no pair, scores 0): a
    linear layer over `[h_head; h_dep; h_head * h_dep]` (the product lets the pair
    interact, as a biaffine would, at O(H L) per pair), plus, with `distance`, the
    one-hot bucket of the arc's signed length."""
    output = Linear(nO=nO, init_W=zero_init)
    return Model(
        "pair_label_scorer",
        _pair_label_forward,
        init=_pair_label_init,
        layers=[output],
        dims={"nO": nO},
        attrs={"distance": distance},
    )


def _pair_label_init(model: Model, X=None, Y=None) -> None:
    output = model.layers[0]
    output.set_dim("nO", model.get_dim("nO"))
    if X is not None:
        extra = N_BUCKETS if model.attrs["distance"] else 0
        output.set_dim("nI", 3 * X[0].shape[-1] + extra)
    output.initialize()


def _pair_label_forward(model: Model, X: Tuple[Floats3d, Floats3d, numpy.ndarray], is_train: bool):
    heads, deps, head_index = X
    xp = model.ops.xp
    shape = heads.shape
    width = shape[-1]
    # Only the pairs that exist are scored: at inference the batch's sentences are
    # padded to its longest, several times the real tokens.
    head_index = numpy.asarray(head_index)
    sentences, dependents = numpy.nonzero(head_index >= 0)
    pair_heads, pair_deps = heads[sentences, dependents], deps[sentences, dependents]
    parts = [pair_heads, pair_deps, pair_heads * pair_deps]
    if model.attrs["distance"]:
        one_hot = bucket_one_hot(shape[1])
        parts.append(model.ops.asarray2f(one_hot[head_index[sentences, dependents], dependents]))
    features = xp.concatenate(parts, axis=-1)
    pair_scores, backprop_output = model.layers[0](features, is_train)
    scores = model.ops.alloc3f(shape[0], shape[1], pair_scores.shape[-1])
    scores[sentences, dependents] = pair_scores

    def backprop(d_scores: Floats3d) -> Tuple[Floats3d, Floats3d]:
        d_features = backprop_output(model.ops.asarray2f(d_scores[sentences, dependents]))
        d_product = d_features[:, 2 * width : 3 * width]
        d_heads, d_deps = model.ops.alloc3f(*shape), model.ops.alloc3f(*shape)
        d_heads[sentences, dependents] = d_features[:, :width] + d_product * pair_deps
        d_deps[sentences, dependents] = d_features[:, width : 2 * width] + d_product * pair_heads
        return d_heads, d_deps

    return scores, backprop
