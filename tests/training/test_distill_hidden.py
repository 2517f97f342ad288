"""`spacy-skd distill --hidden-layer`: hidden-state KD beside the students' KD puts
the distiller right after the student's shared tok2vec, with a projection that
listens to it, and trains end to end from a tiny transformer teacher."""

from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.util import load_config
from typer.testing import CliRunner

from spacy_skd.cli import app
from spacy_skd.testing import force_hf_offline
from spacy_skd.training.distill import distillation_config
from tests.small_teacher import gold_examples

pytestmark = pytest.mark.filterwarnings("ignore:.*without sentence boundaries")

ROOT = Path(__file__).resolve().parents[2]


def test_hidden_kd_sits_after_the_shared_tok2vec_at_its_width(trf_teacher):
    overrides = {"components.tok2vec.model.encode.width": 192}
    config = load_config(ROOT / "configs" / "student_cnn.cfg", overrides=overrides)
    plain = distillation_config(config, str(trf_teacher))
    assert plain["nlp"]["pipeline"][:2] == ["distiller", "tok2vec"]
    assert "model" not in plain["components"]["distiller"]
    used = distillation_config(
        config, str(trf_teacher), hidden_layers=[-1, 2], hidden_loss="cosine", hidden_weight=0.5
    )
    assert used["nlp"]["pipeline"][:3] == ["tok2vec", "distiller", "senter"]
    distiller = used["components"]["distiller"]
    assert distiller["model"] == {
        "@architectures": "spacy-skd.HiddenProjection.v1",
        "tok2vec": {
            "@architectures": "spacy.Tok2VecListener.v1",
            "width": 192,
            "upstream": "tok2vec",
        },
    }
    assert (distiller["hidden_layers"], distiller["hidden_loss"]) == ([-1, 2], "cosine")
    assert distiller["hidden_weight"] == 0.5 and distiller["students"]["tagger"]
    config["nlp"]["pipeline"] = ["tagger"]
    with pytest.raises(ValueError, match="needs a shared 'tok2vec' component"):
        distillation_config(config, str(trf_teacher), hidden_layers=[-1])


def shared_tok2vec_student(tmp_path: Path, max_steps: int, eval_frequency: int):
    """The config of an skd_tagger student listening to a shared tok2vec, and the
    path of the small gold corpus, written to `tmp_path`."""
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec")
    listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": 96, "upstream": "tok2vec"}
    nlp.add_pipe("skd_tagger", name="tagger", config={"model": {"tok2vec": listener}})
    corpus = tmp_path / "train.spacy"
    DocBin(docs=[eg.reference for eg in gold_examples(nlp)]).to_disk(corpus)
    config = nlp.config
    config["training"]["max_steps"] = max_steps
    config["training"]["eval_frequency"] = eval_frequency
    return config, str(corpus)


def test_distill_learns_the_teachers_hidden_states_and_strips_the_distiller(
    trf_teacher, tmp_path, monkeypatch
):
    force_hf_offline(monkeypatch)
    config, corpus = shared_tok2vec_student(tmp_path, max_steps=6, eval_frequency=3)
    config.to_disk(tmp_path / "student.cfg")
    args = ["distill", str(trf_teacher), str(tmp_path / "student.cfg"), str(tmp_path / "out")]
    args += ["--hidden-layer", "-1", "--hidden-layer", "2", "--hidden-loss", "cosine"]
    result = CliRunner().invoke(app, args + ["--paths.train", corpus, "--paths.dev", corpus])
    assert result.exit_code == 0, result.output
    assert "Pipeline: ['tok2vec', 'distiller', 'tagger']" in result.output
    used = load_config(tmp_path / "out" / "distill.cfg")["components"]["distiller"]
    assert used["hidden_layers"] == [-1, 2] and used["hidden_loss"] == "cosine"
    trained = spacy.load(tmp_path / "out" / "model-last")
    assert trained.pipe_names == ["tok2vec", "tagger"]
    assert trained.get_pipe("tok2vec").listening_components == ["tagger"]
    assert all(token.tag_ for token in trained("They like green ham"))


def test_a_resumed_hidden_state_distillation_ends_with_the_uninterrupted_weights(
    trf_teacher, tmp_path, monkeypatch
):
    """The projection of hidden-state KD and its optimizer state come back from
    the checkpoint: interrupted and resumed, the run ends with the weights of the
    uninterrupted one, the distiller's included."""
    from tests.training.test_resume import (
        assert_same_weights,
        create_interrupt_once,
        whole_and_resumed,
    )

    force_hf_offline(monkeypatch)
    config, corpus = shared_tok2vec_student(tmp_path, max_steps=7, eval_frequency=2)
    config["paths"]["train"] = config["paths"]["dev"] = corpus
    config = distillation_config(
        config, str(trf_teacher), cache_dir=str(tmp_path / "cache"), hidden_layers=[-1]
    )
    interrupt = {"at_step": 4, "log": str(tmp_path / "steps.log")}
    assert create_interrupt_once(**interrupt)
    config["training"]["before_update"] = {"@callbacks": "test.interrupt_once.v1", **interrupt}
    expected, got = whole_and_resumed(tmp_path, config)
    assert any(name == "distiller" for name, _, _ in expected)
    assert_same_weights(expected, got)
