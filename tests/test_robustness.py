"""Inference never crashes on odd input, in every pipeline the project ships: one
built from each config in configs/ (the teacher on a tiny random BERT, the
distilled student with its distiller in front, which the teacher of
teacher_trf.cfg teaches), trained a few steps on the EWT sample, saved and loaded
with spacy.load, and the packaged distilled pipeline in project/packages/ when one
has been built. The odd inputs: empty and whitespace-only text, one token, a
2,000-token sentence (cut by the parser's max_length, so memory stays bounded by
max_length^2 arcs per piece), non-Latin scripts, emoji, control characters,
pre-set sentence boundaries. They go through one doc at a time, through nlp.pipe
in batches that mix empty and non-empty docs or hold only empty ones, and through
two processes. Every doc comes out with every token tagged and well-formed
trees; an empty doc comes out empty."""

import tarfile
from pathlib import Path

import pytest
import spacy
from spacy.training import Corpus, Example
from spacy.training.initialize import init_nlp
from spacy.util import load_config

from spacy_skd.teacher.tiny_bert import make_tiny_bert
from spacy_skd.testing import force_hf_offline
from spacy_skd.training.convert import convert_corpus
from tests.small_teacher import TOK2VEC

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.cfg"))
SAMPLE = ROOT / "tests" / "fixtures" / "ewt_sample"
PACKAGES = ROOT / "project" / "packages"
PACKAGED = "packaged"
TRAINING_STEPS = 3
DOCS_PER_STEP = 4

ODD = [
    "",
    "   \n\t  ",
    "word",
    "Привет, мир! 你好世界。 مرحبا بالعالم",
    "emoji 😀👍🏽 and 🇩🇪 flags",
    "control\x00chars\x07 and \u200b zero width",
    " ".join(["long"] * 2000),
]
SHORT_ODD = [text for text in ODD if len(text) < 100]
SENTENCES = ["I like green eggs .", "Anna eats ham in Berlin ."]
pytestmark = pytest.mark.filterwarnings("ignore:.*without sentence boundaries")


@pytest.fixture(scope="module", autouse=True)
def offline():
    with pytest.MonkeyPatch.context() as monkeypatch:
        force_hf_offline(monkeypatch)
        yield


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "train.spacy"
    convert_corpus(SAMPLE / "train.conllu", path, iob2_path=SAMPLE / "train.iob2")
    return path


def train_a_few_steps(config_path: Path, overrides: dict, corpus: Path, out: Path) -> Path:
    """The pipeline of `config_path`, initialized on `corpus`, updated a few steps
    and saved to `out`, as `spacy train` does with a short max_steps."""
    spacy.util.fix_random_seed(0)
    paths = {"paths.train": str(corpus), "paths.dev": str(corpus)}
    nlp = init_nlp(load_config(config_path, overrides={**overrides, **paths}))
    examples = list(Corpus(corpus)(nlp))
    for step in range(TRAINING_STEPS):
        nlp.update(examples[step * DOCS_PER_STEP : (step + 1) * DOCS_PER_STEP])
    nlp.to_disk(out)
    return out


@pytest.fixture(scope="module")
def trained_teacher(corpus, tmp_path_factory) -> Path:
    """teacher_trf.cfg on a tiny random BERT, trained a few steps."""
    bert = make_tiny_bert(tmp_path_factory.mktemp("bert") / "tiny-bert")
    out = tmp_path_factory.mktemp("teacher") / "teacher_trf"
    return train_a_few_steps(
        ROOT / "configs" / "teacher_trf.cfg", {"paths.teacher": str(bert)}, corpus, out
    )


def packaged_model(tmp_path: Path) -> Path:
    """The model folder inside the `spacy package` archive that project/packages/
    holds (skips when it holds none)."""
    archives = sorted(PACKAGES.glob("*.tar.gz"))
    if not archives:
        pytest.skip("no packaged pipeline in project/packages/ (the project's package step)")
    assert len(archives) == 1, f"project/packages/ holds {len(archives)} packages, not one"
    with tarfile.open(archives[0]) as archive:
        archive.extractall(tmp_path, filter="data")
    return next(p.parent for p in tmp_path.rglob("config.cfg") if (p.parent / "meta.json").exists())


@pytest.fixture(scope="module", params=[c.stem for c in CONFIGS] + [PACKAGED])
def nlp(request, corpus, tmp_path_factory):
    name = request.param
    if name == PACKAGED:
        path = packaged_model(tmp_path_factory.mktemp("package"))
    elif name == "teacher_trf":
        path = request.getfixturevalue("trained_teacher")
    else:
        config_path = ROOT / "configs" / f"{name}.cfg"
        overrides = {}
        if "teacher" in load_config(config_path)["paths"]:
            overrides["paths.teacher"] = str(request.getfixturevalue("trained_teacher"))
        path = train_a_few_steps(config_path, overrides, corpus, tmp_path_factory.mktemp(name))
    return spacy.load(path)


def check_doc(nlp, doc, text: str) -> None:
    """`doc` is `text` fully annotated: every token tagged and parsed, one root per
    sentence, no head outside its sentence, no sentence longer than the parser's
    max_length; an empty doc has nothing."""
    assert doc.text == text
    assert len(doc) == len(nlp.make_doc(text))
    if not len(doc):
        assert doc.ents == ()
        return
    assert all(token.tag_ and token.pos_ and token.dep_ for token in doc)
    max_length = nlp.get_pipe("parser").cfg["max_length"]
    for sent in doc.sents:
        assert len(sent) <= max_length
        roots = [t for t in sent if t.head.i == t.i]
        assert len(roots) == 1, sent.text[:50]
        assert all(sent.start <= token.head.i < sent.end for token in sent)
    assert all(ent.label_ for ent in doc.ents)


@pytest.mark.parametrize("text", ODD, ids=range(len(ODD)))
def test_odd_text_one_doc_at_a_time(nlp, text):
    check_doc(nlp, nlp(text), text)


@pytest.mark.parametrize("n_process", [1, 2])
def test_odd_texts_in_batches(nlp, n_process):
    # batches of 3: only empty docs, then empty docs with others, the long doc alone
    texts = ["", "", ""] + ["", SENTENCES[0], ""] + SHORT_ODD * 2 + SENTENCES + [ODD[-1]]
    docs = list(nlp.pipe(texts, batch_size=3, n_process=n_process))
    assert len(docs) == len(texts)
    for doc, text in zip(docs, texts):
        check_doc(nlp, doc, text)


def test_a_batch_of_only_empty_docs(nlp):
    docs = list(nlp.pipe(["", "", ""]))
    assert [len(doc) for doc in docs] == [0, 0, 0]
    assert all(doc.ents == () for doc in docs)
    assert list(nlp.pipe([])) == []


def test_preset_sentence_boundaries_are_kept(nlp):
    doc = nlp.make_doc("I like eggs Anna eats ham")
    for token in doc:
        token.is_sent_start = token.i in (0, 3)
    with nlp.select_pipes(disable=["senter"]):
        doc = nlp(doc)
    assert [sent.start for sent in doc.sents] == [0, 3]
    check_doc(nlp, doc, doc.text)


GOLD = (
    "Anna eats ham",
    {"tags": ["N", "V", "N"], "heads": [1, 1, 1], "deps": ["nsubj", "ROOT", "obj"]},
)


@pytest.mark.parametrize("factory", ["skd_tagger", "skd_parser", "skd_ner"])
def test_diverged_weights_stop_training_with_a_clear_error(factory):
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe(factory, config={"model": {"tok2vec": TOK2VEC}})
    text, annotations = GOLD
    exs = [Example.from_dict(nlp.make_doc(text), {**annotations, "entities": [(0, 4, "PER")]})]
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
    text, annotations = GOLD
    exs = [Example.from_dict(nlp.make_doc(text), {"tags": annotations["tags"]})]
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
