"""skd_tagger: overfitting, round trips, missing annotation, teacher targets."""

import pickle

import numpy
import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Token
from spacy.training import Example
from spacy.util import fix_random_seed

from spacy_skd.targets import SequenceTargets

TRAIN = [
    ("I like green eggs", ["N", "V", "J", "N"]),
    ("Eat blue ham", ["V", "J", "N"]),
    ("They eat ham", ["N", "V", "N"]),
]
OUTPUT_LAYERS = ["softmax", "crf"]


def make_nlp(output_layer: str, **config) -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("skd_tagger", config={"model": {"output_layer": output_layer}, **config})
    return nlp


def examples(nlp, attr="tags", data=TRAIN):
    return [Example.from_dict(nlp.make_doc(text), {attr: tags}) for text, tags in data]


def train(nlp, exs, steps=50):
    optimizer = nlp.initialize(lambda: exs)
    losses = {}
    for _ in range(steps):
        losses = nlp.update(exs, sgd=optimizer, losses={})
    return losses


@pytest.mark.parametrize("output_layer", OUTPUT_LAYERS)
def test_overfits_tags(output_layer):
    nlp = make_nlp(output_layer)
    exs = examples(nlp)
    first = train(nlp, exs, steps=1)["skd_tagger"]
    last = train(nlp, exs, steps=60)["skd_tagger"]
    assert last < 0.01 * first
    for text, tags in TRAIN:
        assert [t.tag_ for t in nlp(text)] == tags
    assert nlp.evaluate(exs)["tag_acc"] == 1.0


@pytest.mark.parametrize("output_layer", OUTPUT_LAYERS)
def test_pos_and_extension_attrs(output_layer):
    nlp = make_nlp(output_layer, attr="pos")
    data = [("I like eggs", ["PRON", "VERB", "NOUN"]), ("Eat ham", ["VERB", "NOUN"])]
    exs = examples(nlp, "pos", data)
    train(nlp, exs)
    assert [t.pos_ for t in nlp("I like eggs")] == ["PRON", "VERB", "NOUN"]
    assert nlp.evaluate(exs)["pos_acc"] == 1.0

    if not Token.has_extension("chunk"):
        Token.set_extension("chunk", default=None)
    nlp = make_nlp(output_layer, attr="_.chunk")
    exs = []
    for text, tags in TRAIN:
        ref = nlp.make_doc(text)
        for token, tag in zip(ref, tags):
            token._.chunk = tag
        exs.append(Example(nlp.make_doc(text), ref))
    train(nlp, exs)
    assert [t._.chunk for t in nlp("Eat blue ham")] == ["V", "J", "N"]
    assert nlp.evaluate(exs)["chunk_acc"] == 1.0


POS_MORPH_DATA = [
    ("I like eggs", ["PRON", "VERB", "NOUN"], ["Case=Nom|Person=1", "", "Number=Plur"]),
    ("Eat ham", ["VERB", "NOUN"], ["Mood=Imp", "Number=Sing"]),
]


def pos_morph_examples(nlp):
    return [
        Example.from_dict(nlp.make_doc(text), {"pos": pos, "morphs": morphs})
        for text, pos, morphs in POS_MORPH_DATA
    ]


@pytest.mark.parametrize("output_layer", OUTPUT_LAYERS)
def test_pos_morph_predicts_pos_and_features_as_one_label(output_layer, tmp_path):
    nlp = make_nlp(output_layer, attr="pos+morph")
    exs = pos_morph_examples(nlp)
    train(nlp, exs)
    assert nlp.get_pipe("skd_tagger").labels == (
        "POS=NOUN|Number=Plur",
        "POS=NOUN|Number=Sing",
        "POS=PRON|Case=Nom|Person=1",
        "POS=VERB",
        "POS=VERB|Mood=Imp",
    )
    doc = nlp("I like eggs")
    assert [t.pos_ for t in doc] == ["PRON", "VERB", "NOUN"]
    assert [str(t.morph) for t in doc] == ["Case=Nom|Person=1", "", "Number=Plur"]
    scores = nlp.evaluate(exs)
    assert scores["pos_acc"] == scores["morph_acc"] == 1.0
    assert scores["morph_per_feat"]["Number"]["f"] == 1.0
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert [str(t.morph) for t in loaded("Eat ham")] == ["Mood=Imp", "Number=Sing"]


def test_pos_morph_needs_a_pos_and_features_alone_are_missing():
    nlp = make_nlp("softmax", attr="pos+morph")
    partial = Example.from_dict(
        nlp.make_doc("eggs ham"), {"pos": ["NOUN", ""], "morphs": ["Number=Plur", "Number=Sing"]}
    )
    tagger = nlp.get_pipe("skd_tagger")
    assert tagger._gold_tags(partial) == ["POS=NOUN|Number=Plur", None]


@pytest.mark.parametrize("attr,preset", [("tag", "Y"), ("pos", "SYM")])
def test_overwrite_decides_whether_values_already_set_stay(attr, preset):
    data = [("I like eggs", ["PRON", "VERB", "NOUN"]), ("Eat ham", ["VERB", "NOUN"])]
    for overwrite in (False, True):
        nlp = make_nlp("softmax", attr=attr, overwrite=overwrite)
        train(nlp, examples(nlp, "tags" if attr == "tag" else "pos", data))
        doc = nlp.make_doc("I like eggs")
        setattr(doc[1], f"{attr}_", preset)
        doc = nlp.get_pipe("skd_tagger")(doc)
        got = [getattr(t, f"{attr}_") for t in doc]
        assert got == (["PRON", "VERB", "NOUN"] if overwrite else ["PRON", preset, "NOUN"])


@pytest.mark.parametrize("output_layer", OUTPUT_LAYERS)
def test_round_trips(output_layer, tmp_path):
    nlp = make_nlp(output_layer)
    train(nlp, examples(nlp))
    expected = [t.tag_ for t in nlp("They like green ham")]
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert [t.tag_ for t in loaded("They like green ham")] == expected
    assert loaded.get_pipe("skd_tagger").labels == nlp.get_pipe("skd_tagger").labels
    from_bytes = make_nlp(output_layer).from_bytes(nlp.to_bytes())
    assert [t.tag_ for t in from_bytes("They like green ham")] == expected
    unpickled = pickle.loads(pickle.dumps(nlp))
    assert [t.tag_ for t in unpickled("They like green ham")] == expected


def test_pipe_with_two_processes_and_empty_docs(tmp_path):
    nlp = make_nlp("crf")
    train(nlp, examples(nlp))
    texts = ["", "I like ham", "   ", "Eat eggs"] * 3
    docs = list(nlp.pipe(texts, batch_size=2, n_process=2))
    assert [t.tag_ for t in docs[1]] == [t.tag_ for t in nlp("I like ham")]
    assert all(t.tag_ for doc in docs for t in doc if not t.is_space)


@pytest.mark.parametrize("output_layer", OUTPUT_LAYERS)
def test_missing_annotation_is_skipped_not_learned(output_layer):
    nlp = make_nlp(output_layer)
    labelled = examples(nlp)
    partial = Example.from_dict(nlp.make_doc("green eggs ham"), {"tags": ["J", "", "N"]})
    unlabelled = Example(nlp.make_doc("blue blue blue"), nlp.make_doc("blue blue blue"))
    train(nlp, labelled + [partial, unlabelled])
    assert nlp.get_pipe("skd_tagger").labels == ("J", "N", "V")
    tagger = nlp.get_pipe("skd_tagger")
    scores = tagger.model.predict([unlabelled.predicted])
    loss, d_scores = tagger.get_loss([unlabelled], scores)
    assert loss == 0.0
    assert not numpy.asarray(d_scores[0]).any()


def teacher_targets(doc, labels, method, output_layer, weight=1.0):
    """A confident hand-made teacher that tags every token 'N' except verbs 'V'."""
    scores = numpy.full((len(doc), len(labels)), -4.0, dtype="float32")
    for i, token in enumerate(doc):
        scores[i, labels.index("V" if token.text in ("eat", "like") else "N")] = 4.0
    crf = {}
    if output_layer == "crf":
        crf = {
            "transitions": numpy.zeros((len(labels),) * 2, dtype="float32"),
            "start": numpy.zeros(len(labels), dtype="float32"),
            "end": numpy.zeros(len(labels), dtype="float32"),
        }
    return SequenceTargets(scores, method=method, weight=weight, **crf)


SEQUENCE_PAIRS = [
    (method, teacher, student)
    for method in ("token", "structural", "hard")
    for teacher in OUTPUT_LAYERS
    for student in OUTPUT_LAYERS
] + [
    ("local", "softmax", "softmax"),
    ("local", "softmax", "crf"),
    ("local", "crf", "crf"),
    ("local_scores", "crf", "crf"),
    ("local_scores_spread", "crf", "crf"),
    ("local_scores_raw", "crf", "crf"),
]


@pytest.mark.parametrize("method,teacher,student", SEQUENCE_PAIRS)
def test_learns_from_teacher_targets_alone(method, teacher, student):
    """Docs without gold, only a teacher's targets: the student learns the teacher."""
    nlp = make_nlp(student)
    gold = examples(nlp)
    nlp.initialize(lambda: gold)
    labels = list(nlp.get_pipe("skd_tagger").labels)
    texts = ["they eat eggs", "I like ham", "eggs eat ham", "ham like eggs"]
    optimizer = nlp.create_optimizer()
    for _ in range(40):
        batch = []
        for text in texts:
            doc = nlp.make_doc(text)
            doc._.skd_targets = {"skd_tagger": teacher_targets(doc, labels, method, teacher)}
            batch.append(Example(doc, nlp.make_doc(text)))
        nlp.update(batch, sgd=optimizer)
    assert [t.tag_ for t in nlp("eggs like eggs")] == ["N", "V", "N"]


def test_weight_zero_targets_change_nothing():
    nlp = make_nlp("crf")
    exs = examples(nlp)
    nlp.initialize(lambda: exs)
    tagger = nlp.get_pipe("skd_tagger")
    scores = tagger.model.predict([eg.predicted for eg in exs])
    plain = tagger.get_loss(exs, scores)[0]
    labels = list(tagger.labels)
    for eg in exs:
        targets = teacher_targets(eg.predicted, labels, "structural", "crf", weight=0.0)
        eg.predicted._.skd_targets = {"skd_tagger": targets}
    assert tagger.get_loss(exs, scores)[0] == pytest.approx(plain)


def test_bad_targets_and_config_are_refused():
    nlp = make_nlp("softmax")
    exs = examples(nlp)
    nlp.initialize(lambda: exs)
    tagger = nlp.get_pipe("skd_tagger")
    doc = exs[0].predicted
    doc._.skd_targets = {"skd_tagger": SequenceTargets(numpy.zeros((len(doc), 7), dtype="f"))}
    with pytest.raises(ValueError, match="7 labels|3 labels"):
        tagger.get_loss(exs[:1], tagger.model.predict([doc]))
    with pytest.raises(ValueError, match="method"):
        SequenceTargets(numpy.zeros((2, 3)), method="distill")
    with pytest.raises(ValueError, match="attr"):
        make_nlp("softmax", attr="lemma")
    with pytest.raises(ValueError, match="output_layer"):
        make_nlp("hmm")
    with pytest.raises(ValueError, match="after it was initialized"):
        tagger.add_label("X")


def test_initialize_without_labels_names_the_component():
    nlp = make_nlp("softmax", attr="pos")
    exs = examples(nlp)
    with pytest.raises(ValueError, match="'skd_tagger' found no labels for attr 'pos'"):
        nlp.initialize(lambda: exs)


def test_shares_a_tok2vec_through_a_listener():
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec")
    listener = {
        "@architectures": "spacy.Tok2VecListener.v1",
        "width": 96,
    }
    nlp.add_pipe("skd_tagger", config={"model": {"output_layer": "crf", "tok2vec": listener}})
    exs = examples(nlp)
    train(nlp, exs, steps=60)
    assert [t.tag_ for t in nlp("Eat blue ham")] == ["V", "J", "N"]


def test_learn_rate_scale_multiplies_the_components_own_steps_only():
    """With a shared tok2vec: the tagger's output layer moves `scale` times as
    far in one Adam step; the tok2vec, updated by its own component, does not."""
    from thinc.api import Adam

    listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": 96, "upstream": "*"}
    moves = {}
    for scale in (1.0, 10.0):
        fix_random_seed(0)
        nlp = spacy.blank("en")
        nlp.add_pipe("tok2vec")
        nlp.add_pipe(
            "skd_tagger", config={"model": {"tok2vec": listener}, "learn_rate_scale": scale}
        )
        exs = examples(nlp)
        nlp.initialize(lambda exs=exs: exs)
        output = nlp.get_pipe("skd_tagger").model.get_ref("output_layer")
        embed = nlp.get_pipe("tok2vec").model
        before = (
            output.get_param("W").copy(),
            [node.get_param(n).copy() for node in embed.walk() for n in node.param_names],
        )
        nlp.update(exs, sgd=Adam(0.001))
        after = [node.get_param(n) for node in embed.walk() for n in node.param_names]
        moves[scale] = (
            numpy.abs(output.get_param("W") - before[0]).max(),
            max(numpy.abs(a - b).max() for a, b in zip(after, before[1])),
        )
    assert moves[10.0][0] == pytest.approx(10 * moves[1.0][0], rel=1e-3)
    assert moves[10.0][1] == pytest.approx(moves[1.0][1], rel=1e-3)


def test_label_smoothing_matches_spacys_smoothed_targets():
    import torch

    from spacy_skd.pipeline.sequence_loss import gold_loss

    scores = torch.randn(2, 3, 4, dtype=torch.float64)
    gold = torch.tensor([[0, 3, -1], [2, 2, 1]])
    lengths = torch.tensor([2, 3])
    eps = 0.1
    expected = torch.zeros(2, dtype=torch.float64)
    for b in range(2):
        for i in range(3):
            if gold[b, i] < 0:
                continue
            target = torch.full((4,), eps / 3, dtype=torch.float64)
            target[gold[b, i]] = 1 - eps
            expected[b] -= (target * scores[b, i].log_softmax(-1)).sum()
    got = gold_loss(scores, lengths, None, gold, label_smoothing=eps)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(
        gold_loss(scores, lengths, None, gold), gold_loss(scores, lengths, None, gold, 0.0)
    )


def test_label_smoothing_trains_a_softmax_tagger_and_is_refused_for_a_crf():
    nlp = make_nlp("softmax", label_smoothing=0.05)
    exs = examples(nlp)
    train(nlp, exs)
    assert nlp.evaluate(exs)["tag_acc"] == 1.0
    with pytest.raises(ValueError, match="label_smoothing applies to a softmax"):
        make_nlp("crf", label_smoothing=0.05)
    with pytest.raises(ValueError, match=r"label_smoothing must lie in \[0, 1\)"):
        make_nlp("softmax", label_smoothing=1.0)
