"""skd_parser: overfitting, valid trees, sentences and the length cap, round
trips, docs without tokens, missing annotation, teacher targets."""

import pickle

import numpy
import pytest
import spacy
from spacy.training import Example

from spacy_skd.methods import METHODS
from spacy_skd.targets import ArcTargets

TRAIN = [
    ("I like green eggs", [1, 1, 3, 1], ["nsubj", "ROOT", "amod", "dobj"]),
    ("Eat blue ham", [0, 2, 0], ["ROOT", "amod", "dobj"]),
    ("They eat ham", [1, 1, 1], ["nsubj", "ROOT", "dobj"]),
]
OBJECTIVES = ["crf", "local"]
# Most docs here have no senter in front; the warning has its own test.
pytestmark = pytest.mark.filterwarnings("ignore:.*without sentence boundaries")


def make_nlp(objective="crf", **config):
    nlp = spacy.blank("en")
    nlp.add_pipe("skd_parser", config={"objective": objective, **config})
    return nlp


def examples(nlp, data=TRAIN):
    return [
        Example.from_dict(nlp.make_doc(text), {"heads": heads, "deps": deps})
        for text, heads, deps in data
    ]


def train(nlp, exs, steps=40):
    optimizer = nlp.initialize(lambda: exs)
    losses = {}
    for _ in range(steps):
        losses = nlp.update(exs, sgd=optimizer, losses={})
    return losses


def is_tree(doc):
    for sent in doc.sents:
        roots = [t for t in sent if t.head.i == t.i]
        if len(roots) != 1:
            return False
        for token in sent:
            seen, node = set(), token
            while node.head.i != node.i:
                if node.i in seen or not sent.start <= node.head.i < sent.end:
                    return False
                seen.add(node.i)
                node = node.head
    return True


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_overfits_trees_and_labels(objective):
    nlp = make_nlp(objective)
    exs = examples(nlp)
    first = train(nlp, exs, steps=1)["skd_parser"]
    last = train(nlp, exs, steps=40)["skd_parser"]
    assert last < 0.01 * first
    for text, heads, deps in TRAIN:
        doc = nlp(text)
        assert [t.head.i for t in doc] == heads
        assert [t.dep_ for t in doc] == deps
    scores = nlp.evaluate(exs)
    assert scores["dep_uas"] == scores["dep_las"] == 1.0


def test_labels_whose_hash_exceeds_int64_are_set():
    """Most short labels are spaCy symbols with small ids; "aux:pass" is a hash
    above 2**63, which an int64 annotation array cannot hold."""
    data = TRAIN + [("ham was eaten", [2, 2, 2], ["nsubj", "aux:pass", "ROOT"])]
    nlp = make_nlp("crf")
    train(nlp, examples(nlp, data))
    assert [t.dep_ for t in nlp("ham was eaten")] == ["nsubj", "aux:pass", "ROOT"]


def test_decoding_random_scores_gives_trees_with_sentences_and_cap():
    """An untrained parser on docs with and without boundaries, longer than the cap."""
    nlp = make_nlp("crf", max_length=5)
    exs = examples(nlp)
    nlp.initialize(lambda: exs)
    parser = nlp.get_pipe("skd_parser")
    parser.model.get_ref("arc_scorer").set_param(
        "W", numpy.random.default_rng(0).normal(size=(1, 257, 257)).astype("f")
    )
    long_doc = nlp.make_doc(" ".join(["word"] * 13))
    with pytest.warns(UserWarning, match="without sentence boundaries"):
        parsed = nlp(long_doc)
    assert is_tree(parsed)
    assert len(list(parsed.sents)) == 3  # 5 + 5 + 3 tokens
    with_sents = nlp.make_doc("a b c d e f g")
    for i, token in enumerate(with_sents):
        token.is_sent_start = i in (0, 3)
    parsed = parser(with_sents)
    assert is_tree(parsed)
    assert [s.start for s in parsed.sents] == [0, 3]


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_round_trips(objective, tmp_path):
    nlp = make_nlp(objective)
    train(nlp, examples(nlp))
    expected = [(t.head.i, t.dep_) for t in nlp("They like green ham")]
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert [(t.head.i, t.dep_) for t in loaded("They like green ham")] == expected
    from_bytes = make_nlp(objective).from_bytes(nlp.to_bytes())
    assert [(t.head.i, t.dep_) for t in from_bytes("They like green ham")] == expected
    unpickled = pickle.loads(pickle.dumps(nlp))
    assert [(t.head.i, t.dep_) for t in unpickled("They like green ham")] == expected


def test_pipe_with_two_processes_and_empty_docs():
    nlp = make_nlp("crf")
    train(nlp, examples(nlp))
    texts = ["", "I like ham", " ", "Eat eggs"] * 3
    docs = list(nlp.pipe(texts, batch_size=2, n_process=2))
    assert [t.head.i for t in docs[1]] == [t.head.i for t in nlp("I like ham")]
    assert all(is_tree(doc) for doc in docs if len(doc))


# A BiLSTM cannot take a batch in which no doc has a token.
BILSTM_TOK2VEC = {
    "@layers": "chain.v1",
    "*": {
        "cnn": {
            "@architectures": "spacy.HashEmbedCNN.v2",
            "pretrained_vectors": None,
            "width": 32,
            "depth": 1,
            "embed_size": 500,
            "window_size": 1,
            "maxout_pieces": 3,
            "subword_features": True,
        },
        "bilstm": {
            "@architectures": "spacy.TorchBiLSTMEncoder.v1",
            "width": 32,
            "depth": 1,
            "dropout": 0.0,
        },
    },
}


def test_docs_without_tokens_do_not_reach_the_tok2vec():
    nlp = make_nlp("crf", model={"tok2vec": BILSTM_TOK2VEC})
    train(nlp, examples(nlp), steps=2)
    model = nlp.get_pipe("skd_parser").model
    scores, backprop = model.begin_update([nlp.make_doc(""), nlp.make_doc("")])
    assert scores.spans == [] and scores.arcs.shape[0] == 0
    assert [d_vectors.shape for d_vectors in backprop(scores)] == [(0, 32), (0, 32)]
    assert len(nlp("")) == 0
    docs = list(nlp.pipe(["", "", "I like ham", ""], batch_size=2))
    assert [len(doc) for doc in docs] == [0, 0, 3, 0]
    assert is_tree(docs[2])


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_missing_heads_are_marginalised_not_learned(objective):
    nlp = make_nlp(objective)
    exs = examples(nlp)
    unlabelled = Example(nlp.make_doc("blue blue ham"), nlp.make_doc("blue blue ham"))
    partial = Example.from_dict(
        nlp.make_doc("green ham"), {"heads": [1, 1], "deps": ["amod", "ROOT"]}
    )
    train(nlp, exs + [partial, unlabelled])
    parser = nlp.get_pipe("skd_parser")
    scores = parser.model.predict([unlabelled.predicted])
    loss, d_scores = parser.get_loss([unlabelled], scores)
    assert loss == 0.0
    assert not numpy.asarray(d_scores.arcs).any()
    assert not numpy.asarray(d_scores.label_heads).any()
    assert not numpy.asarray(d_scores.label_deps).any()


def rule_teacher(doc, labels, method, objective, weight=1.0):
    """A confident teacher: every word attaches to the first, which is the root;
    labels: 'ROOT' for the root, 'dobj' for the rest."""
    n = len(doc)
    arcs = numpy.full((n + 1, n + 1), -5.0, dtype="f")
    arcs[0, 1] = 5.0
    arcs[1, 2:] = 5.0
    heads = numpy.array([0] + [1] * (n - 1))
    label_logits = numpy.full((n, len(labels)), -5.0, dtype="f")
    label_logits[0, labels.index("ROOT")] = 5.0
    label_logits[1:, labels.index("dobj")] = 5.0
    return ArcTargets(
        [(0, n)], [arcs], [label_logits], [heads], objective=objective, method=method, weight=weight
    )


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("teacher", OBJECTIVES)
@pytest.mark.parametrize("student", OBJECTIVES)
def test_learns_from_teacher_targets_alone(method, teacher, student):
    nlp = make_nlp(student)
    nlp.initialize(lambda: examples(nlp))
    labels = list(nlp.get_pipe("skd_parser").labels)
    texts = ["eggs eat ham", "ham like eggs green", "they eat"]
    optimizer = nlp.create_optimizer()
    for _ in range(40):
        batch = []
        for text in texts:
            doc = nlp.make_doc(text)
            doc._.skd_targets = {"skd_parser": rule_teacher(doc, labels, method, teacher)}
            batch.append(Example(doc, nlp.make_doc(text)))
        nlp.update(batch, sgd=optimizer)
    # No gold anywhere: what the student knows of these texts comes from the teacher.
    for text in texts:
        doc = nlp(text)
        assert [t.head.i for t in doc] == [0] * len(doc)
        assert [t.dep_ for t in doc] == ["ROOT"] + ["dobj"] * (len(doc) - 1)


def test_targets_on_other_sentences_are_refused():
    nlp = make_nlp("crf")
    exs = examples(nlp)
    nlp.initialize(lambda: exs)
    labels = list(nlp.get_pipe("skd_parser").labels)
    doc = exs[0].predicted
    targets = rule_teacher(doc, labels, "structural", "crf")
    targets.spans = [(0, 2)]
    doc._.skd_targets = {"skd_parser": targets}
    with pytest.raises(ValueError, match="parses tokens 0-4 as one sentence"):
        nlp.update(exs[:1])


def test_bad_config_and_missing_trees():
    with pytest.raises(ValueError, match="objective"):
        make_nlp("eisner")
    nlp = make_nlp("crf")
    bare = [Example(nlp.make_doc("no trees here"), nlp.make_doc("no trees here"))]
    with pytest.raises(ValueError, match="found no dependency labels"):
        nlp.initialize(lambda: bare)


def test_buckets_of_sentences_change_nothing(monkeypatch):
    """Sentences are scored in length buckets: a sentence parsed in a big batch of
    varied lengths gets the same tree as alone, and training still fits."""
    import spacy_skd.models.parser as parser_model

    monkeypatch.setattr(parser_model, "BUCKET_SIZE", 2)
    nlp = make_nlp("crf")
    exs = examples(nlp)
    first = train(nlp, exs, steps=1)["skd_parser"]
    assert train(nlp, exs, steps=40)["skd_parser"] < 0.01 * first
    for text, heads, _ in TRAIN:
        assert [t.head.i for t in nlp(text)] == heads
    texts = [" ".join(["ham"] * (1 + i % 7)) + " eat eggs" for i in range(11)]
    alone = [[t.head.i for t in nlp(text)] for text in texts]
    together = [[t.head.i for t in doc] for doc in nlp.pipe(texts, batch_size=11)]
    assert together == alone
