"""Targets <-> cache entries: sequences with CRF constraints, parser arcs in full
and as top-k heads that keep the teacher's tree."""

import numpy
import torch

from spacy_skd.structs import DependencyCRF
from spacy_skd.targets import ArcTargets, SequenceTargets, from_entry, to_entry
from spacy_skd.teacher.cache import TargetCache

SETTINGS = {"method": "structural", "weight": 0.5, "temperature": 2.0}


def stored(entry, tmp_path):
    cache = TargetCache("f" * 64, tmp_path)
    cache.put("k", entry)
    return TargetCache("f" * 64, tmp_path).get("k")


def test_sequence_targets_with_impossible_transitions_round_trip(tmp_path):
    rng = numpy.random.default_rng(0)
    transitions = rng.normal(size=(3, 3)).astype("f")
    transitions[0, 2] = -numpy.inf
    targets = SequenceTargets(
        rng.normal(size=(4, 3)).astype("f"),
        transitions=transitions,
        start=numpy.array([0.0, -numpy.inf, 1.0], dtype="f"),
        end=numpy.zeros(3, dtype="f"),
        labels=("O", "B-X", "I-X"),
    )
    back = from_entry("ner", stored(to_entry("ner", targets), tmp_path), **SETTINGS)
    assert back.labels == targets.labels and back.temperature == 2.0
    numpy.testing.assert_allclose(back.scores, targets.scores, rtol=1e-3, atol=1e-3)
    assert back.transitions[0, 2] < -1e29 and back.start[1] < -1e29
    assert numpy.isfinite(back.transitions).all()
    assert from_entry("tagger", {}, **SETTINGS) is None


def test_long_sentences_keep_top_k_heads_root_and_the_tree(tmp_path):
    rng = numpy.random.default_rng(1)
    lengths = [3, 9]
    arcs = [rng.normal(size=(n + 1, n + 1)).astype("f") * 5 for n in lengths]
    heads = [
        DependencyCRF(torch.as_tensor(a)[None], torch.tensor([n])).argmax[0, 1:].numpy()
        for a, n in zip(arcs, lengths)
    ]
    # Give one word of the long sentence its worst word head: outside every top-2.
    worst = arcs[1][1:, 5].copy()
    worst[4] = numpy.inf
    heads[1][4] = 1 + int(worst.argmin())
    targets = ArcTargets(
        [(0, 3), (3, 12)],
        arcs,
        [rng.normal(size=(n, 4)).astype("f") for n in lengths],
        heads,
        label_names=("a", "b", "c", "d"),
    )
    entry = stored(to_entry("parser", targets, top_k=2, dense_up_to=5), tmp_path)
    back = from_entry("parser", entry, dense_up_to=5, **SETTINGS)
    assert back.spans == targets.spans and back.label_names == targets.label_names
    numpy.testing.assert_allclose(back.arcs[0], arcs[0], rtol=1e-3, atol=1e-2)
    long, n = back.arcs[1], lengths[1]
    for d in range(1, n + 1):
        kept = set(numpy.flatnonzero(long[:, d] > -1e29)) - {d}
        word_scores = arcs[1][1:, d].copy()
        word_scores[d - 1] = -numpy.inf
        best = 1 + int(word_scores.argmax())
        assert {0, heads[1][d - 1], best} <= kept and len(kept) <= 3
        for h in kept:
            numpy.testing.assert_allclose(long[h, d], arcs[1][h, d], rtol=1e-3, atol=1e-2)
    tree = torch.as_tensor(long)[None]
    assert torch.isfinite(DependencyCRF(tree, torch.tensor([n])).log_partition).all()
    for got, want in zip(back.labels, targets.labels):
        numpy.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)
