"""skd_ner: overfitting, round trips, missing annotation, teacher targets, valid
decoding, and a run on the EWT fixture."""

import itertools
import pickle
from pathlib import Path

import numpy
import pytest
import spacy
import torch
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example, iob_to_biluo
from spacy.training.iob_utils import doc_to_biluo_tags
from spacy.util import fix_random_seed, minibatch

from spacy_skd.pipeline.ner import gold_tags, tag_names, transition_constraints
from spacy_skd.structs import SemiMarkovCRF
from spacy_skd.targets import SequenceTargets
from spacy_skd.training.convert import convert_corpus

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ewt_sample"
TRAIN = [
    ("Anna lives in Paris", [(0, 4, "PER"), (14, 19, "LOC")]),
    ("Bob Smith works at Acme Corp", [(0, 9, "PER"), (19, 28, "ORG")]),
    ("I like New York City a lot", [(7, 20, "LOC")]),
    ("nothing to see here", []),
]
SCHEMES = ["BILUO", "BIO"]
OUTPUT_LAYERS = ["crf", "softmax"]
# A small tok2vec keeps the file fast; the default one works the same way.
TOK2VEC = {"width": 32, "depth": 2, "embed_size": 500}


def make_nlp(output_layer: str = "crf", scheme: str = "BILUO") -> Language:
    fix_random_seed(0)
    nlp = spacy.blank("en")
    model = {"output_layer": output_layer, "tok2vec": TOK2VEC}
    nlp.add_pipe("skd_ner", config={"scheme": scheme, "model": model})
    return nlp


def examples(nlp, data=TRAIN):
    return [Example.from_dict(nlp.make_doc(text), {"entities": ents}) for text, ents in data]


def ents(doc):
    return [(ent.text, ent.label_) for ent in doc.ents]


def gold_ents(data=TRAIN):
    return [[(text[s:e], label) for s, e, label in spans] for text, spans in data]


def train(nlp, exs, steps=50):
    optimizer = nlp.initialize(lambda: exs)
    losses = []
    for _ in range(steps):
        losses.append(nlp.update(exs, sgd=optimizer, losses={})["skd_ner"])
    return losses


def is_valid(tags, scheme):
    """A reference check of a tag sequence, independent of the component's."""
    open_label = None
    for tag in tags:
        kind, label = tag[0], tag[2:]
        if kind in ("I", "L") and open_label != label:
            return False
        if scheme == "BILUO" and kind in ("B", "U", "O") and open_label is not None:
            return False
        open_label = label if kind in ("B", "I") else None
    return scheme == "BIO" or open_label is None


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("output_layer", OUTPUT_LAYERS)
def test_overfits_entities(scheme, output_layer):
    nlp = make_nlp(output_layer, scheme)
    exs = examples(nlp)
    losses = train(nlp, exs, steps=60)
    assert losses[-1] < 0.05 * losses[0]
    ner = nlp.get_pipe("skd_ner")
    assert ner.labels == ("LOC", "ORG", "PER")
    assert [ents(doc) for doc in nlp.pipe(text for text, _ in TRAIN)] == gold_ents()
    doc = nlp("nothing to see here")
    assert [t.ent_iob_ for t in doc] == ["O"] * 4
    scores = nlp.evaluate(exs)
    assert scores["ents_f"] == 1.0
    assert set(scores["ents_per_type"]) == {"LOC", "ORG", "PER"}


def test_tag_indices_follow_semi_markov_crf():
    nlp = make_nlp()
    ner = nlp.get_pipe("skd_ner")
    ner.initialize(lambda: examples(nlp), nlp=nlp, labels=["PER", "LOC"])
    assert ner.labels == ("LOC", "PER")
    for e, label in enumerate(ner.labels):
        for k, kind in enumerate("BILU"):
            assert ner.tag_names.index(f"{kind}-{label}") == 1 + k + 4 * e
    assert ner.tag_names[0] == "O" and len(ner.tag_names) == 9
    assert tag_names(["LOC", "PER"], "BIO") == ("O", "B-LOC", "I-LOC", "B-PER", "I-PER")
    for scheme in SCHEMES:
        # one overwhelming entity: PER (e = 1) on tokens 1..3 of 5
        span_scores = torch.full((1, 5, 3, 2), -50.0)
        span_scores[0, 1, 2, 1] = 50.0
        tags = SemiMarkovCRF(span_scores, torch.tensor([5]), scheme=scheme).argmax[0]
        names = [tag_names(["LOC", "PER"], scheme)[int(i)] for i in tags]
        inside = ["B-PER", "I-PER", "L-PER"] if scheme == "BILUO" else ["B-PER", "I-PER", "I-PER"]
        assert names == ["O", *inside, "O"]


def path_score(seq, emissions, transitions, start, end):
    total = start[seq[0]] + end[seq[-1]] + emissions[range(len(seq)), seq].sum()
    return total + sum(transitions[a, c] for a, c in zip(seq, seq[1:]))


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("output_layer", OUTPUT_LAYERS)
def test_decoding_random_scores_gives_the_best_valid_sequence(scheme, output_layer):
    nlp = make_nlp(output_layer, scheme)
    ner = nlp.get_pipe("skd_ner")
    ner.initialize(lambda: examples(nlp), nlp=nlp, labels=["LOC", "PER"])
    names = ner.tag_names
    n_tags = len(names)
    rng = numpy.random.default_rng(0)
    # large random CRF scores: unconstrained Viterbi would often pick invalid tags
    crf = {"transitions": numpy.zeros((n_tags, n_tags)), "start": numpy.zeros(n_tags)}
    crf["end"] = numpy.zeros(n_tags)
    if output_layer == "crf":
        layer = ner.model.get_ref("transitions")
        for name, value in crf.items():
            crf[name] = rng.normal(0, 5, value.shape).astype("f")
            layer.set_param(name, crf[name])
    lengths = [1, 2, 3, 4, 4, 3, 0, 4] + list(rng.integers(5, 15, 40))
    scores = [rng.normal(0, 5, (n, n_tags)).astype("f") for n in lengths]
    decoded = ner.decode(scores)
    for emissions, ids in zip(scores, decoded):
        n = len(emissions)
        tags = [names[int(i)] for i in ids]
        assert len(tags) == n and is_valid(tags, scheme)
        doc = Doc(nlp.vocab, words=[f"w{i}" for i in range(n)])
        ner.set_annotations([doc], [ids])
        assert doc_to_biluo_tags(doc) == (tags if scheme == "BILUO" else iob_to_biluo(tags))
        if 0 < n <= 4:
            valid = [
                list(seq)
                for seq in itertools.product(range(n_tags), repeat=n)
                if is_valid([names[i] for i in seq], scheme)
            ]
            best = max(path_score(seq, emissions, **crf) for seq in valid)
            assert path_score(list(ids), emissions, **crf) == pytest.approx(best, abs=1e-3)


@pytest.mark.parametrize("output_layer", OUTPUT_LAYERS)
def test_round_trips(output_layer, tmp_path):
    nlp = make_nlp(output_layer, "BIO")
    train(nlp, examples(nlp))
    text = "Anna works at Acme Corp in New York City"
    expected = ents(nlp(text))
    assert expected
    nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    assert ents(loaded(text)) == expected
    assert loaded.get_pipe("skd_ner").labels == ("LOC", "ORG", "PER")
    assert loaded.get_pipe("skd_ner").scheme == "BIO"
    from_bytes = make_nlp(output_layer, "BIO").from_bytes(nlp.to_bytes())
    assert ents(from_bytes(text)) == expected
    unpickled = pickle.loads(pickle.dumps(nlp))
    assert ents(unpickled(text)) == expected


def test_pipe_with_two_processes_and_empty_docs():
    nlp = make_nlp()
    train(nlp, examples(nlp))
    texts = ["", "Anna lives in Paris", "   ", "Bob Smith works at Acme Corp", " \n "] * 2
    docs = list(nlp.pipe(texts, batch_size=2, n_process=2))
    assert [ents(doc) for doc in docs] == [ents(nlp(text)) for text in texts]
    assert ents(docs[1]) == gold_ents()[0]
    assert all(t.ent_iob_ == "O" for doc in docs for t in doc if not t.ent_type_)


def test_missing_annotation_is_missing_not_outside():
    nlp = make_nlp()
    words = ["Anna", "met", "Bob", "Smith", "today"]
    partial = Example.from_dict(
        nlp.make_doc(" ".join(words)), {"entities": ["U-PER", "-", "B-PER", "L-PER", "-"]}
    )
    assert gold_tags(partial, "BILUO") == ["U-PER", None, "B-PER", "L-PER", None]
    assert gold_tags(partial, "BIO") == ["B-PER", None, "B-PER", "I-PER", None]
    # the converter's way: None entity tags on a sentence without NER annotation
    ref = Doc(nlp.vocab, words=words + ["."], ents=[None] * 5 + ["O"])
    converted = Example(Doc(nlp.vocab, words=words + ["."]), ref)
    assert gold_tags(converted, "BILUO") == [None] * 5 + ["O"]


@pytest.mark.parametrize("output_layer", OUTPUT_LAYERS)
def test_partial_and_unannotated_docs_train_alongside(output_layer):
    nlp = make_nlp(output_layer)
    labelled = examples(nlp)
    partial = Example.from_dict(
        nlp.make_doc("Anna met Bob today"), {"entities": ["U-PER", "-", "U-PER", "-"]}
    )
    unannotated = Example(nlp.make_doc("Paris Paris Paris"), nlp.make_doc("Paris Paris Paris"))
    train(nlp, labelled + [partial, unannotated], steps=60)
    ner = nlp.get_pipe("skd_ner")
    assert ner.labels == ("LOC", "ORG", "PER")
    assert [ents(doc) for doc in nlp.pipe(text for text, _ in TRAIN)] == gold_ents()
    scores = ner.model.predict([unannotated.predicted])
    loss, d_scores = ner.get_loss([unannotated], scores)
    assert loss == 0.0
    assert not numpy.asarray(d_scores[0]).any()


def capitalised_are_per(doc, tags, method):
    """A confident BILUO CRF teacher: every maximal run of capitalised words is a
    PER. Its emissions favour the PER tags on capitalised words and O elsewhere;
    its transitions, start and end scores penalise invalid sequences and a PER
    directly after a PER (so a run is one entity)."""
    per = [j for j, tag in enumerate(tags) if tag.endswith("-PER")]
    emissions = numpy.full((len(doc), len(tags)), -4.0, dtype="float32")
    for i, token in enumerate(doc):
        emissions[i, per if token.text[0].isupper() else [0]] = 4.0
    transitions, start, end = (
        numpy.where(allowed, 0.0, -8.0).astype("float32")
        for allowed in transition_constraints(tags, "BILUO")
    )
    closes = [tags.index(f"{kind}-PER") for kind in "LU"]
    opens = [tags.index(f"{kind}-PER") for kind in "BU"]
    transitions[numpy.ix_(closes, opens)] = -8.0
    return SequenceTargets(
        emissions, method=method, weight=1.0, transitions=transitions, start=start, end=end
    )


@pytest.mark.parametrize(
    "method,output_layer",
    [
        ("structural", "crf"),
        ("structural", "softmax"),
        ("hard", "crf"),
        ("hard", "softmax"),
        ("token", "crf"),
        ("local", "crf"),
    ],
)
def test_learns_from_teacher_targets_alone(method, output_layer):
    """Docs without gold, only a teacher's targets: the student learns the rule
    (runs of capitalised words are PER entities) on them."""
    nlp = make_nlp(output_layer)
    texts = {
        "yesterday Anna met Bob Smith": [("Anna", "PER"), ("Bob Smith", "PER")],
        "we saw Carl Lee Jones at noon": [("Carl Lee Jones", "PER")],
        "then Mary left": [("Mary", "PER")],
        "ask Tom and Lee about it": [("Tom", "PER"), ("Lee", "PER")],
        "no names here at all": [],
    }
    unlabelled = [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in texts]
    nlp.config["initialize"]["components"]["skd_ner"] = {"labels": ["PER", "LOC"]}
    optimizer = nlp.initialize(lambda: unlabelled)
    optimizer.learn_rate = 0.01
    tags = nlp.get_pipe("skd_ner").tag_names
    for _ in range(40):
        batch = []
        for text in texts:
            doc = nlp.make_doc(text)
            doc._.skd_targets = {"skd_ner": capitalised_are_per(doc, tags, method)}
            batch.append(Example(doc, nlp.make_doc(text)))
        nlp.update(batch, sgd=optimizer)
    assert [ents(doc) for doc in nlp.pipe(texts)] == list(texts.values())


def test_errors_name_the_component():
    nlp = make_nlp()
    unlabelled = [Example(nlp.make_doc("no entities"), nlp.make_doc("no entities"))]
    with pytest.raises(ValueError, match="'skd_ner' found no entity labels"):
        nlp.initialize(lambda: unlabelled)
    with pytest.raises(ValueError, match="scheme"):
        make_nlp(scheme="IOB")
    nlp = make_nlp()
    nlp.initialize(lambda: examples(nlp))
    with pytest.raises(ValueError, match="after it was initialized"):
        nlp.get_pipe("skd_ner").add_label("MISC")


def test_trains_on_the_converted_ewt_sample(tmp_path):
    """The fixture converted as the project converts EWT (NER joined from IOB2),
    mixed with NER-less docs (dev without its IOB2 file: missing, not O)."""
    convert_corpus(FIXTURES / "train.conllu", tmp_path / "train.spacy", FIXTURES / "train.iob2")
    convert_corpus(FIXTURES / "dev.conllu", tmp_path / "dev.spacy")
    nlp = make_nlp()
    train_docs = list(DocBin().from_disk(tmp_path / "train.spacy").get_docs(nlp.vocab))
    no_ner = list(DocBin().from_disk(tmp_path / "dev.spacy").get_docs(nlp.vocab))[:3]
    exs = [Example(nlp.make_doc(doc.text), doc) for doc in train_docs + no_ner]
    assert all(tag is None for tag in gold_tags(exs[-1], "BILUO"))
    optimizer = nlp.initialize(lambda: exs)
    optimizer.learn_rate = 0.01
    assert nlp.get_pipe("skd_ner").labels == ("LOC", "ORG", "PER")
    losses = []
    for _ in range(3):
        for batch in minibatch(exs, 4):
            losses.append(nlp.update(batch, sgd=optimizer, losses={})["skd_ner"])
    assert numpy.isfinite(losses).all()
    predicted = list(nlp.pipe(doc.text for doc in train_docs))
    labels = {ent.label_ for doc in predicted for ent in doc.ents}
    assert labels and labels <= {"PER", "LOC", "ORG"}
    assert nlp.evaluate(exs[: len(train_docs)])["ents_f"] > 0.0
