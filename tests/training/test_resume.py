"""Resumable training: a run interrupted after some steps continues from its
model-last to max_steps; it starts from the checkpoint's weights, keeps the better
best model, and trains anew when the config changed."""

import json

import numpy
import pytest
import spacy
from spacy.tokens import DocBin
from spacy.util import load_config, registry
from typer.testing import CliRunner

from spacy_skd.cli import app
from spacy_skd.training.checkpoint_state import STATE_FILE
from spacy_skd.training.resume import PROGRESS, RESUME_DIR, read_progress, train_pipeline
from tests.small_teacher import TOK2VEC, gold_examples

pytestmark = pytest.mark.filterwarnings("ignore:.*without sentence boundaries")


@registry.callbacks("test.interrupt_once.v1")
def create_interrupt_once(at_step: int, log: str):
    """Log every step (as recorded in the meta) to `log`; the first time step
    `at_step` is reached, stop the run as Ctrl-C would."""

    def before_update(nlp, args):
        with open(log, "a") as handle:
            handle.write(f"{nlp.meta[PROGRESS]['step']}\n")
        marker = f"{log}.interrupted"
        if args["step"] == at_step and not _exists(marker):
            open(marker, "w").close()
            raise KeyboardInterrupt

    return before_update


def _exists(path):
    try:
        open(path).close()
        return True
    except OSError:
        return False


def write_config(tmp_path, *, max_steps=8, learn_rate=0.001, at_step=3, skd_parser=False):
    """A tagger + parser (spaCy's, or `skd_parser`) student on the small gold
    corpus, interrupted once at `at_step`; its config and the log of steps."""
    nlp = spacy.blank("en")
    nlp.add_pipe("skd_tagger", name="tagger", config={"model": {"tok2vec": TOK2VEC}})
    if skd_parser:
        nlp.add_pipe("skd_parser", name="parser", config={"model": {"tok2vec": TOK2VEC}})
    else:
        nlp.add_pipe("parser", config={"min_action_freq": 1})
    config = nlp.config
    corpus = tmp_path / "train.spacy"
    DocBin(docs=[eg.reference for eg in gold_examples(nlp)]).to_disk(corpus)
    config["paths"]["train"] = str(corpus)
    config["paths"]["dev"] = str(corpus)
    config["training"]["max_steps"] = max_steps
    config["training"]["eval_frequency"] = 2
    config["training"]["optimizer"]["learn_rate"] = learn_rate
    log = tmp_path / "steps.log"
    config["training"]["before_update"] = {
        "@callbacks": "test.interrupt_once.v1",
        "at_step": at_step,
        "log": str(log),
    }
    path = tmp_path / "config.cfg"
    config.to_disk(path)
    return load_config(path, interpolate=False), log


def logged_steps(log):
    return [int(line) for line in log.read_text().split()]


def test_an_interrupted_run_resumes_to_max_steps(tmp_path):
    config, log = write_config(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        train_pipeline(config, out)
    assert read_progress(out / "model-last")["step"] == 3
    assert not read_progress(out / "model-last").get("finished")
    assert logged_steps(log) == [0, 1, 2, 3]
    train_pipeline(config, out, resume=True)
    # the interrupted step 3 runs again, then the steps left up to max_steps
    assert logged_steps(log) == [0, 1, 2, 3, 3, 4, 5, 6, 7, 8]
    progress = read_progress(out / "model-last")
    assert progress["step"] == 8 and progress["finished"]
    for name in ("model-best", "model-last"):
        assert spacy.load(out / name).pipe_names == ["tagger", "parser"]
    assert not (out / RESUME_DIR).exists()
    # a finished run is left as it is
    train_pipeline(config, out, resume=True)
    assert logged_steps(log)[-1] == 8 and len(logged_steps(log)) == 10


def test_the_resumed_run_starts_from_the_checkpoints_weights(tmp_path):
    """With a learn rate of 0 nothing changes the weights after the checkpoint
    (changed on disk here), so the final model holds exactly those weights; a
    fresh start would hold the initial ones."""
    config, _ = write_config(tmp_path, learn_rate=0.0)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        train_pipeline(config, out)
    checkpoint = spacy.load(out / "model-last")
    layer = checkpoint.get_pipe("tagger").model.get_ref("output_layer")
    changed = layer.get_param("W") + 0.5
    layer.set_param("W", changed)
    checkpoint.to_disk(out / "model-last")
    train_pipeline(config, out, resume=True)
    final = spacy.load(out / "model-last").get_pipe("tagger").model.get_ref("output_layer")
    numpy.testing.assert_array_equal(final.get_param("W"), changed)


def test_the_better_best_model_is_kept(tmp_path):
    config, _ = write_config(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        train_pipeline(config, out)
    meta_path = out / "model-best" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["performance"] = {name: 2.0 for name in meta["performance"]}
    meta["description"] = "the best before resuming"
    meta_path.write_text(json.dumps(meta))
    train_pipeline(config, out, resume=True)
    assert spacy.load(out / "model-best").meta["description"] == "the best before resuming"


def test_a_changed_config_trains_anew(tmp_path):
    config, log = write_config(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        train_pipeline(config, out)
    config["training"]["max_steps"] = 4
    train_pipeline(config, out, resume=True)
    assert logged_steps(log) == [0, 1, 2, 3, 0, 1, 2, 3, 4]
    assert read_progress(out / "model-last")["finished"]


def test_the_train_command_resumes(tmp_path):
    config, log = write_config(tmp_path)
    config.to_disk(tmp_path / "run.cfg")
    args = ["train", str(tmp_path / "run.cfg"), str(tmp_path / "out"), "--training.max_steps", "6"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code != 0
    assert not read_progress(tmp_path / "out" / "model-last").get("finished")
    second = CliRunner().invoke(app, [*args, "--resume"])
    assert second.exit_code == 0, second.output
    assert "Resuming" in second.output
    assert logged_steps(log) == [0, 1, 2, 3, 3, 4, 5, 6]
    assert read_progress(tmp_path / "out" / "model-last")["finished"]


def _weights(path):
    nlp = spacy.load(path)
    return {
        (name, i, param): node.get_param(param)
        for name, proc in nlp.pipeline
        for i, node in enumerate(proc.model.walk())
        for param in node.param_names
        if node.has_param(param)
    }


def whole_and_resumed(tmp_path, config, keep_state=True):
    """The final weights of `config` trained without interruption, and trained
    with its interruption then resumed (its training state removed first unless
    `keep_state`)."""
    plain = config.copy()
    plain["training"]["before_update"] = None
    train_pipeline(plain, tmp_path / "whole")
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        train_pipeline(config, out)
    state = out / "model-last" / STATE_FILE
    assert state.exists()
    if not keep_state:
        state.unlink()
    train_pipeline(config, out, resume=True)
    assert not (out / "model-last" / STATE_FILE).exists()
    return _weights(tmp_path / "whole" / "model-last"), _weights(out / "model-last")


def assert_same_weights(expected, got):
    """Both runs' weights (from `whole_and_resumed`) are the same, parameter by parameter."""
    assert expected.keys() == got.keys()
    for key in expected:
        numpy.testing.assert_allclose(
            got[key], expected[key], rtol=1e-5, atol=1e-6, err_msg=str(key)
        )


@pytest.mark.parametrize("at_step", [3, 6])
def test_a_resumed_run_ends_with_the_uninterrupted_runs_weights(tmp_path, at_step):
    """Optimizer state, schedules, data order and dropout all continue: the
    interrupted and resumed run ends where the uninterrupted one does (the
    corpus has fewer batches than steps, so the replay crosses epochs)."""
    config, _ = write_config(tmp_path, max_steps=9, at_step=at_step, skd_parser=True)
    config["training"]["batcher"] = {
        "@batchers": "spacy.batch_by_words.v1",
        "size": {"@schedules": "compounding.v1", "start": 4, "stop": 40, "compound": 1.3},
        "tolerance": 0.2,
        "discard_oversize": False,
    }
    config["training"]["optimizer"]["learn_rate"] = {
        "@schedules": "warmup_linear.v1",
        "warmup_steps": 4,
        "total_steps": 10,
        "initial_rate": 0.01,
    }
    expected, got = whole_and_resumed(tmp_path, config)
    assert_same_weights(expected, got)


def test_without_the_state_file_the_resumed_run_ends_elsewhere(tmp_path):
    """The same comparison fails when the checkpoint's training state is removed:
    the check above can tell a restored run from a fresh optimizer."""
    config, _ = write_config(tmp_path, max_steps=9, at_step=6, skd_parser=True)
    expected, got = whole_and_resumed(tmp_path, config, keep_state=False)
    assert any(
        not numpy.allclose(got[key], expected[key], rtol=1e-5, atol=1e-6) for key in expected
    )
