"""`--anneal`: the learning rate falls linearly from the config's to 0 over
max_steps, and keeps falling over the same steps when the run is resumed."""

import pytest
from spacy.util import registry
from thinc.api import Config

from spacy_skd.training.schedules import linear_decay_start, with_linear_decay

CONFIG = """
[training]
max_steps = 10

[training.optimizer]
@optimizers = "Adam.v1"
learn_rate = 0.002
"""


def rates(config, n):
    optimizer = registry.resolve({"o": config["training"]["optimizer"]})["o"]
    found = []
    for _ in range(n):
        found.append(optimizer.learn_rate)
        optimizer.step_schedules()
    return found


def test_the_rate_falls_linearly_to_zero_over_max_steps():
    config = with_linear_decay(Config().from_str(CONFIG))
    found = rates(config, 12)
    assert found[:6] == pytest.approx([0.002, 0.0018, 0.0016, 0.0014, 0.0012, 0.001])
    assert found[10:] == pytest.approx([0.0, 0.0])


def test_the_schedule_keeps_its_steps_when_max_steps_changes():
    """A resumed run trains the steps left as its max_steps: the schedule must
    not shrink with it."""
    config = with_linear_decay(Config().from_str(CONFIG))
    config["training"]["max_steps"] = 4
    assert config["training"]["optimizer"]["learn_rate"]["total_steps"] == 10


def test_a_scheduled_rate_is_refused():
    config = Config().from_str(CONFIG)
    config["training"]["optimizer"]["learn_rate"] = {
        "@schedules": "constant.v1",
        "rate": 0.001,
    }
    with pytest.raises(ValueError, match="constant learning rate"):
        with_linear_decay(config)


def test_no_max_steps_is_refused():
    config = Config().from_str(CONFIG)
    config["training"]["max_steps"] = 0
    with pytest.raises(ValueError, match="max_steps"):
        with_linear_decay(config)


def test_the_start_of_the_fall_is_read_back_from_the_config():
    config = with_linear_decay(Config().from_str(CONFIG))
    assert linear_decay_start(config["training"]["optimizer"]["learn_rate"]) == 0.002
    assert linear_decay_start(0.002) is None
    assert linear_decay_start({"@schedules": "constant.v1", "rate": 0.001}) is None
