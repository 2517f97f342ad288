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


def write_config(tmp_path, *, max_steps=8, learn_rate=0.001, at_step=3):
    """A tagger + parser student on the small gold corpus, interrupted once at
    `at_step`; its config and the log of steps."""
    nlp = spacy.blank("en")
    nlp.add_pipe("skd_tagger", name="tagger", config={"model": {"tok2vec": TOK2VEC}})
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
