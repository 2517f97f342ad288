"""`spacy-skd.initial_weights.v1`: an `[initialize.after_init]` callback that
starts a pipeline's training from the weights of a trained pipeline of the same
architecture (`spacy-skd train/distill --init-from`), for a second stage such as
annealing the learning rate of a finished run. spaCy's own `source` cannot serve
there: a sourced component keeps its saved config, so the distiller could not
tell which factory a student is.

Each component of the pipeline that the saved one also has takes its model's
weights; the pipeline's own components are initialised as usual first, so a
component whose labels or weight shapes differ from the saved one's is refused
by name instead of half-loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from spacy.language import Language
from spacy.util import registry
from thinc.api import Config, Model

from .schedules import with_linear_decay

INITIAL_WEIGHTS = "spacy-skd.initial_weights.v1"


@registry.callbacks(INITIAL_WEIGHTS)
def create_initial_weights(path: str) -> Callable[[Language], Language]:
    """The callback.

    path: a saved pipeline (e.g. a run's `model-last`) whose components' weights
        the pipeline's components of the same names take.
    """

    def after_init(nlp: Language) -> Language:
        load_weights(nlp, Path(path))
        return nlp

    return after_init


def load_weights(nlp: Language, path: Path) -> List[str]:
    """Copy into `nlp` the model weights of each component that the pipeline
    saved at `path` also has; returns their names. Raises ValueError if none is
    shared, or one's labels or weight shapes differ."""
    import spacy

    if not (path / "config.cfg").is_file():
        raise ValueError(f"the initial weights {path} are not a saved spaCy pipeline")
    source = spacy.load(path)
    copied = []
    for name, pipe in nlp.pipeline:
        if name not in source.pipe_names or not isinstance(getattr(pipe, "model", None), Model):
            continue
        saved = source.get_pipe(name)
        labels, saved_labels = _labels(pipe), _labels(saved)
        if labels != saved_labels:
            raise ValueError(
                f"component '{name}' of {path} has other labels than the pipeline's: "
                f"{sorted(saved_labels)} against {sorted(labels)}"
            )
        if _shapes(pipe.model) != _shapes(saved.model):
            raise ValueError(f"component '{name}' of {path} has weights of other shapes")
        pipe.model.from_bytes(saved.model.to_bytes())
        copied.append(name)
    if not copied:
        raise ValueError(f"{path} has no component of the pipeline's {nlp.pipe_names}")
    return copied


def with_initial_weights(config: Config, path: str | Path) -> Config:
    """`config` whose training starts from the weights saved at `path` (its
    `[initialize] after_init`, which must be free)."""
    config = Config(config).copy()
    initialize = config.setdefault("initialize", {})
    if initialize.get("after_init") is not None:
        raise ValueError(
            "the config has an [initialize.after_init] already: cannot add --init-from"
        )
    initialize["after_init"] = {"@callbacks": INITIAL_WEIGHTS, "path": str(path)}
    return config


def with_second_stage(config: Config, init_from: Optional[str | Path], anneal: bool) -> Config:
    """`config` starting from the weights saved at `init_from` (if given,
    `with_initial_weights`) with its learning rate falling linearly to 0 (if
    `anneal`, `schedules.with_linear_decay`): what `--init-from` and `--anneal`
    of `spacy-skd train` and `distill` do."""
    if init_from:
        config = with_initial_weights(config, init_from)
    return with_linear_decay(config) if anneal else config


def _labels(pipe: Any) -> Tuple[str, ...]:
    return tuple(sorted(getattr(pipe, "labels", ()) or ()))


def _shapes(model: Model) -> List[Dict[str, Any]]:
    return [
        {name: node.get_param(name).shape for name in node.param_names if node.has_param(name)}
        for node in model.walk()
    ]
