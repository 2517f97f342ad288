"""Learning-rate schedules that `spacy-skd train` and `distill` set on a config
(`--anneal`)."""

from __future__ import annotations

from typing import Any, Optional

from thinc.api import Config

LINEAR = "warmup_linear.v1"


def with_linear_decay(config: Config) -> Config:
    """`config` whose learning rate falls linearly from its own value to 0 over
    `[training] max_steps` (thinc's `warmup_linear.v1` without warm-up): the
    second stage of a run continued with `--init-from`. The config's learning
    rate must be a number and max_steps set. The schedule holds max_steps as a
    number: a resumed run trains fewer steps but keeps its schedule."""
    config = Config(config).copy()
    optimizer = config["training"]["optimizer"]
    rate = optimizer.get("learn_rate")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise ValueError(f"--anneal needs a constant learning rate in the config, not {rate!r}")
    max_steps = Config(config).interpolate()["training"].get("max_steps")
    if not max_steps:
        raise ValueError("--anneal needs [training] max_steps: the steps the rate falls over")
    optimizer["learn_rate"] = {
        "@schedules": LINEAR,
        "initial_rate": rate,
        "warmup_steps": 0,
        "total_steps": max_steps,
    }
    return config


def linear_decay_start(learn_rate: Any) -> Optional[float]:
    """The rate a `learn_rate` block of `with_linear_decay` falls from, or None
    for any other learning rate."""
    if isinstance(learn_rate, dict) and learn_rate.get("@schedules") == LINEAR:
        if not learn_rate.get("warmup_steps"):
            return learn_rate["initial_rate"]
    return None
