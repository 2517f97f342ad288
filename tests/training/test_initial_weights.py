"""Training from a saved pipeline's weights (`--init-from`): the components start
with the saved weights, other labels or shapes are refused by name, a resumed
run keeps its checkpoint's weights, and the commands take the option."""

import numpy
import pytest
import spacy
from spacy.training.initialize import init_nlp
from typer.testing import CliRunner

from spacy_skd.cli import app
from spacy_skd.training.initial_weights import (
    INITIAL_WEIGHTS,
    load_weights,
    with_initial_weights,
)
from spacy_skd.training.resume import train_pipeline
from tests.training.test_resume import _weights, write_config

pytestmark = pytest.mark.filterwarnings("ignore:.*without sentence boundaries")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tagger + parser trained for 8 steps (its config and output folder)."""
    tmp_path = tmp_path_factory.mktemp("trained")
    config, _ = write_config(tmp_path, at_step=-1)
    train_pipeline(config, tmp_path / "out")
    return config, tmp_path / "out" / "model-last"


def _assert_same(left, right):
    assert left.keys() == right.keys()
    for key in left:
        numpy.testing.assert_array_equal(left[key], right[key], err_msg=str(key))


def test_an_initialised_pipeline_holds_the_saved_weights(trained):
    config, saved = trained
    nlp = init_nlp(with_initial_weights(config, saved))
    nlp.to_disk(saved.parent.parent / "initialised")
    _assert_same(_weights(saved.parent.parent / "initialised"), _weights(saved))


def test_without_it_the_weights_differ(trained, tmp_path):
    config, saved = trained
    init_nlp(config).to_disk(tmp_path / "initialised")
    fresh, loaded = _weights(tmp_path / "initialised"), _weights(saved)
    assert any(not numpy.array_equal(fresh[key], loaded[key]) for key in loaded)


def test_other_labels_are_refused_by_name(trained, tmp_path):
    config, saved = trained
    nlp = spacy.load(saved)
    nlp.get_pipe("parser").add_label("extra")
    nlp.to_disk(tmp_path / "other")
    with pytest.raises(ValueError, match="component .parser.*other labels"):
        load_weights(init_nlp(config), tmp_path / "other")


def test_other_shapes_are_refused_by_name(trained):
    config, saved = trained
    config = config.copy()
    config["components"]["tagger"]["model"]["tok2vec"]["width"] = 48
    with pytest.raises(ValueError, match="component 'tagger'.*other shapes"):
        load_weights(init_nlp(config), saved)


def test_a_folder_without_a_pipeline_is_refused(trained, tmp_path):
    config, _ = trained
    with pytest.raises(ValueError, match="not a saved spaCy pipeline"):
        load_weights(init_nlp(config), tmp_path)


def test_a_config_with_its_own_after_init_is_refused(trained):
    config, saved = trained
    config = config.copy()
    config["initialize"]["after_init"] = {"@callbacks": "spacy.copy_from_base_model.v1"}
    with pytest.raises(ValueError, match="after_init"):
        with_initial_weights(config, saved)


def test_a_resumed_run_keeps_its_checkpoints_weights(trained, tmp_path):
    """Learn rate 0: the resumed run's final weights are the checkpoint's,
    changed on disk here, not the initial weights loaded again."""
    _, saved = trained
    config, _ = write_config(tmp_path, learn_rate=0.0)
    config = with_initial_weights(config, saved)
    assert config["initialize"]["after_init"]["@callbacks"] == INITIAL_WEIGHTS
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        train_pipeline(config, out, paths=[saved])
    checkpoint = spacy.load(out / "model-last")
    layer = checkpoint.get_pipe("tagger").model.get_ref("output_layer")
    changed = layer.get_param("W") + 0.5
    layer.set_param("W", changed)
    checkpoint.to_disk(out / "model-last")
    train_pipeline(config, out, resume=True, paths=[saved])
    final = spacy.load(out / "model-last").get_pipe("tagger").model.get_ref("output_layer")
    numpy.testing.assert_array_equal(final.get_param("W"), changed)


def test_the_train_command_starts_from_the_saved_weights(trained, tmp_path):
    """Learn rate 0 again: what the command trains ends with the saved weights."""
    _, saved = trained
    config, _ = write_config(tmp_path, learn_rate=0.0, at_step=-1)
    config.to_disk(tmp_path / "run.cfg")
    args = ["train", str(tmp_path / "run.cfg"), str(tmp_path / "out"), "--init-from", str(saved)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    _assert_same(_weights(tmp_path / "out" / "model-last"), _weights(saved))
