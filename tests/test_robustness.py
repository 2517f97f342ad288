"""Inference never crashes on odd input: empty and whitespace-only text, one token,
a 2,000-token sentence (cut by the parser's max_length, so memory stays bounded by
max_length^2 arcs per piece), non-Latin scripts, emoji, control characters,
pre-set sentence boundaries, many docs through nlp.pipe with batches and two
processes. Every doc parsed comes out with well-formed trees."""

import pytest
import spacy
from spacy.training import Example

from tests.small_teacher import TOK2VEC

GOLD = [
    (
        "I like green eggs .",
        ["N", "V", "J", "N", "P"],
        [1, 1, 3, 1, 1],
        ["nsubj", "ROOT", "amod", "obj", "punct"],
    ),
    ("Anna eats ham", ["N", "V", "N"], [1, 1, 1], ["nsubj", "ROOT", "obj"]),
]
ODD = [
    "",
    "   \n\t  ",
    "word",
    "Привет, мир! 你好世界。 مرحبا بالعالم",
    "emoji 😀👍🏽 and 🇩🇪 flags",
    "control\x00chars\x07 and \u200b zero width",
    " ".join(["long"] * 2000),
]
pytestmark = pytest.mark.filterwarnings("ignore:.*without sentence boundaries")


@pytest.fixture(scope="module")
def nlp():
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("senter")
    nlp.add_pipe(
        "skd_tagger", name="tagger", config={"model": {"output_layer": "crf", "tok2vec": TOK2VEC}}
    )
    nlp.add_pipe(
        "skd_parser", name="parser", config={"max_length": 50, "model": {"tok2vec": TOK2VEC}}
    )
    nlp.add_pipe("skd_ner", name="ner", config={"model": {"tok2vec": TOK2VEC}})
    exs = []
    for text, tags, heads, deps in GOLD:
        doc = nlp.make_doc(text)
        ents = [(0, 4, "PER")] if text.startswith("Anna") else []
        exs.append(
            Example.from_dict(
                doc,
                {
                    "tags": tags,
                    "heads": heads,
                    "deps": deps,
                    "entities": ents,
                    "sent_starts": [1] + [0] * (len(tags) - 1),
                },
            )
        )
    optimizer = nlp.initialize(lambda: exs)
    for _ in range(10):
        nlp.update(exs, sgd=optimizer)
    return nlp


def well_formed(doc):
    for sent in doc.sents:
        roots = [t for t in sent if t.head.i == t.i]
        assert len(roots) == 1, sent.text[:50]
        for token in sent:
            assert sent.start <= token.head.i < sent.end
    return True


@pytest.mark.parametrize("text", ODD, ids=range(len(ODD)))
def test_odd_text_is_tagged_and_parsed(nlp, text):
    doc = nlp(text)
    assert len(doc) == len(nlp.make_doc(text))
    assert all(token.tag_ for token in doc)
    if len(doc):
        assert well_formed(doc)
    if len(doc) == 2000:
        # The senter may cut it anywhere, the parser cuts pieces of 50 at most.
        assert max(len(sent) for sent in doc.sents) <= 50


def test_preset_sentence_boundaries_are_kept(nlp):
    doc = nlp.make_doc("I like eggs Anna eats ham")
    for token in doc:
        token.is_sent_start = token.i in (0, 3)
    with nlp.select_pipes(disable=["senter"]):
        doc = nlp(doc)
    assert [sent.start for sent in doc.sents] == [0, 3]
    assert well_formed(doc)


@pytest.mark.parametrize("n_process", [1, 2])
def test_many_docs_in_batches_and_processes(nlp, n_process):
    texts = [t for t in ODD if len(t) < 100] * 5 + [g[0] for g in GOLD] * 10
    docs = list(nlp.pipe(texts, batch_size=7, n_process=n_process))
    assert [doc.text for doc in docs] == texts
    assert all(well_formed(doc) for doc in docs if len(doc))


@pytest.mark.parametrize("factory", ["skd_tagger", "skd_parser", "skd_ner"])
def test_diverged_weights_stop_training_with_a_clear_error(factory):
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe(factory, config={"model": {"tok2vec": TOK2VEC}})
    text, tags, heads, deps = GOLD[1]
    exs = [
        Example.from_dict(
            nlp.make_doc(text),
            {"tags": tags, "heads": heads, "deps": deps, "entities": [(0, 4, "PER")]},
        )
    ]
    nlp.initialize(lambda: exs)
    tok2vec = pipe.model.get_ref("tok2vec")
    for node in tok2vec.walk():
        for name in node.param_names:
            node.get_param(name)[...] = float("nan")
    with pytest.raises(ValueError, match=f"'{factory}': the model's scores contain NaN"):
        nlp.update(exs)


def test_a_nan_loss_stops_training_before_the_weights_change(monkeypatch):
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("skd_tagger", config={"model": {"tok2vec": TOK2VEC}})
    text, tags, _, _ = GOLD[1]
    exs = [Example.from_dict(nlp.make_doc(text), {"tags": tags})]
    optimizer = nlp.initialize(lambda: exs)
    before = [node.get_param(n).copy() for node in pipe.model.walk() for n in node.param_names]
    loss_and_gradients = type(pipe)._backprop_loss

    def nan_loss(self, examples, scores):
        loss, d_scores = loss_and_gradients(self, examples, scores)
        return float("nan"), d_scores

    monkeypatch.setattr(type(pipe), "_backprop_loss", nan_loss)
    with pytest.raises(ValueError, match="'skd_tagger': the training loss is nan"):
        nlp.update(exs, sgd=optimizer)
    after = [node.get_param(n) for node in pipe.model.walk() for n in node.param_names]
    assert all((a == b).all() for a, b in zip(after, before))
