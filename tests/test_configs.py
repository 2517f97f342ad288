"""Every shipped config is valid and trains with `spacy train` on the committed
EWT sample (the teacher on a tiny BERT built offline)."""

from pathlib import Path

import pytest
import spacy
from spacy.cli.debug_config import debug_config
from spacy.cli.train import train
from spacy.util import load_config

from spacy_skd.teacher.tiny_bert import make_tiny_bert
from spacy_skd.testing import force_hf_offline
from spacy_skd.training.convert import convert_corpus

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.cfg"))
# the stock pipelines and the students' variants that the benchmarks train
BENCH_CONFIGS = sorted((ROOT / "bench" / "configs").glob("*.cfg"))
SAMPLE = ROOT / "tests" / "fixtures" / "ewt_sample"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    for split in ("train", "dev"):
        convert_corpus(
            SAMPLE / f"{split}.conllu", out / f"{split}.spacy", iob2_path=SAMPLE / f"{split}.iob2"
        )
    return out


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("bert") / "tiny-bert")


def overrides_for(corpus) -> dict:
    return {
        "paths.train": str(corpus / "train.spacy"),
        "paths.dev": str(corpus / "dev.spacy"),
        "training.max_steps": 4,
        "training.eval_frequency": 2,
    }


@pytest.fixture(scope="module")
def teacher_pipeline(corpus, tiny_bert, tmp_path_factory):
    """teacher_trf.cfg trained for 4 steps on the tiny BERT: a teacher pipeline."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        force_hf_offline(monkeypatch)
        out = tmp_path_factory.mktemp("teacher")
        overrides = {**overrides_for(corpus), "paths.teacher": str(tiny_bert)}
        train(ROOT / "configs" / "teacher_trf.cfg", out, overrides=overrides)
        yield out / "model-last"


def test_the_configs_are_shipped():
    expected = {"teacher_trf", "student_cnn", "student_cnn_gold", "student_bilstm", "distill_cnn"}
    assert {c.stem for c in CONFIGS} >= expected


@pytest.mark.parametrize("config_path", CONFIGS + BENCH_CONFIGS, ids=lambda p: p.stem)
def test_config_passes_spacy_debug_config(config_path, tmp_path):
    paths = {"paths.train": str(tmp_path / "train.spacy"), "paths.dev": str(tmp_path / "dev.spacy")}
    if "teacher" in load_config(config_path)["paths"]:
        paths["paths.teacher"] = str(tmp_path / "teacher")
    debug_config(config_path, overrides=paths)


@pytest.mark.parametrize("config_path", CONFIGS, ids=lambda p: p.stem)
def test_config_trains_and_the_result_loads(config_path, corpus, request, tmp_path, monkeypatch):
    force_hf_offline(monkeypatch)
    overrides = overrides_for(corpus)
    if config_path.stem == "teacher_trf":
        overrides["paths.teacher"] = str(request.getfixturevalue("tiny_bert"))
    elif "teacher" in load_config(config_path)["paths"]:
        overrides["paths.teacher"] = str(request.getfixturevalue("teacher_pipeline"))
    assert load_config(config_path)["training"]["before_to_disk"] == {
        "@misc": "spacy-skd.atomic_saves.v1"
    }
    train(config_path, tmp_path / "out", overrides=overrides)
    # the atomic saves leave no partial or previous folder behind
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["model-best", "model-last"]
    nlp = spacy.load(tmp_path / "out" / "model-last")
    assert nlp.pipe_names[-5:] == ["senter", "tagger", "upos", "parser", "ner"]
    doc = nlp("The Ministry of Health in Canberra said on Tuesday that it will act.")
    assert all(token.tag_ and token.pos_ and token.dep_ for token in doc)
    assert all(len([t for t in sent if t.head == t]) == 1 for sent in doc.sents)
