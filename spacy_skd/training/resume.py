"""Training that survives interruption: `train_pipeline` runs spaCy's own
initialization and training loop and, asked to resume, continues an unfinished
run from its `model-last` (what `spacy-skd train --resume` and `spacy-skd distill
--resume` do).

Every checkpoint's meta.json records how far the run had got (the
`spacy-skd.progress.v1` callback, added as `[training.before_update]`: the step,
the epoch, a fingerprint of the config and of the files it names), and a run that
ends normally is marked finished. Resuming a run of the same fingerprint sources
every component but the distiller from the checkpoint (`[components.X] source`),
initializes the distiller afresh and trains the steps left. What is not restored:
the optimizer's state (Adam's moments start at zero), the schedules (learn rate,
batch size) and the corpus readers, which start from their beginning, and
patience, which counts from the resumption. spaCy's loop deletes `model-best` and
`model-last` when it starts, so the checkpoint and best model are first moved to
`OUTPUT/.resume/`; afterwards the better of the two best models (by the config's
score weights) is kept as `model-best`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterable, Optional

from spacy.language import Language
from spacy.training.initialize import init_nlp
from spacy.training.loop import train as train_nlp
from spacy.util import load_config, registry
from thinc.api import Config

from .corpus import MIXED_CORPUS

PROGRESS = "skd_progress"
RESUME_DIR = ".resume"
LAST = "model-last"
BEST = "model-best"
DISTILLER_FACTORY = "skd_distiller"


@registry.callbacks("spacy-skd.progress.v1")
def create_progress_recorder(
    run: str,
    steps_before: int = 0,
    epochs_before: int = 0,
    then: Optional[Callable[[Language, Dict[str, Any]], None]] = None,
) -> Callable[[Language, Dict[str, Any]], None]:
    """A `[training.before_update]` callback that writes into `nlp.meta` (so into
    every checkpoint's meta.json) the run's fingerprint `run` and the steps and
    epochs done before this step (counting `steps_before`, `epochs_before` of
    the runs it resumes), then calls `then` (the config's own callback)."""

    def before_update(nlp: Language, args: Dict[str, Any]) -> None:
        nlp.meta[PROGRESS] = {
            "run": run,
            "step": steps_before + args["step"],
            "epoch": epochs_before + args["epoch"],
        }
        if then is not None:
            then(nlp, args)

    return before_update


def run_fingerprint(config: Config, paths: Iterable[str | Path] = ()) -> str:
    """A hash of the (uninterpolated) config and of the size and modification
    time of the files it names in `[paths]` and of `paths`: a resumed run must
    train the same thing on the same data."""
    digest = hashlib.sha256(config.to_str().encode("utf8"))
    named = [value for value in config.get("paths", {}).values() if isinstance(value, str)]
    for name in [*named, *map(str, paths)]:
        path = Path(name)
        if path.exists():
            stat = path.stat()
            digest.update(f"{name}\x1f{stat.st_size}\x1f{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:32]


def read_progress(pipeline: Path) -> Optional[Dict[str, Any]]:
    """The progress recorded in a saved pipeline's meta.json, or None."""
    try:
        meta = json.loads((pipeline / "meta.json").read_text(encoding="utf8"))
    except (OSError, ValueError):
        return None
    progress = meta.get(PROGRESS)
    return progress if isinstance(progress, dict) else None


def train_pipeline(
    config: Config,
    output_path: Path,
    *,
    use_gpu: int = -1,
    resume: bool = False,
    paths: Iterable[str | Path] = (),
    stdout: Optional[IO] = None,
) -> Path:
    """Train `config` (uninterpolated, overrides applied) into `output_path` as
    `spacy train` does, recording progress in every checkpoint. With `resume`, an
    unfinished run of the same config and data (see `run_fingerprint`, which
    also covers `paths`) continues from its checkpoint and a finished one is left
    as it is; anything else trains from scratch."""
    from spacy.cli._util import setup_gpu, show_validation_error

    stdout = stdout or sys.stdout
    output_path = Path(output_path)
    output_path.mkdir(parents=True, exist_ok=True)
    run = run_fingerprint(config, paths)
    checkpoint = _checkpoint(output_path, run) if resume else None
    if checkpoint is not None:
        progress = read_progress(checkpoint)
        left = _steps_left(config, progress)
        if progress.get("finished") or left == 0:
            _settle(output_path, checkpoint)
            stdout.write(f"Training in {output_path} has finished already: nothing to resume\n")
            return output_path
    elif resume and (output_path / LAST).exists():
        stdout.write(f"{output_path / LAST} is not from this config and data: training anew\n")
    setup_gpu(use_gpu)
    if checkpoint is None:
        shutil.rmtree(output_path / RESUME_DIR, ignore_errors=True)
        with show_validation_error(hint_fill=False):
            nlp = _initialized(_with_progress(config, run, 0, 0), use_gpu)
        _train(nlp, output_path, use_gpu, stdout)
    else:
        with show_validation_error(hint_fill=False):
            nlp = _initialized(_resumed_config(config, checkpoint, run, progress), use_gpu)
        stdout.write(
            f"Resuming {output_path} from its checkpoint at step {progress['step']}"
            + (f", {left} steps left" if left else "")
            + " (fresh optimizer state)\n"
        )
        weights = _score_weights(checkpoint)
        _set_aside(output_path, checkpoint, weights)
        try:
            _train(nlp, output_path, use_gpu, stdout)
        finally:
            _keep_better_best(output_path, weights)
    _settle(output_path, output_path / LAST)
    return output_path


def _train(nlp: Language, output_path: Path, use_gpu: int, stdout: IO) -> None:
    train_nlp(nlp, output_path, use_gpu=use_gpu, stdout=stdout, stderr=sys.stderr)


def _initialized(config: Config, use_gpu: int) -> Language:
    """spaCy's `init_nlp`. A streamed mixed corpus (`max_epochs = -1`) gives
    finite passes: initialization reads one whole pass (every gold example)
    rather than spaCy's first 100 examples of a stream."""
    streamed = _training(config, "max_epochs") == -1 and _mixed(config)
    if streamed:
        config = config.copy()
        config["training"]["max_epochs"] = 0
    nlp = init_nlp(config, use_gpu=use_gpu)
    if streamed:
        nlp.config["training"]["max_epochs"] = -1
    return nlp


def _training(config: Config, name: str) -> Any:
    """A `[training]` setting of `config`, its variables filled in."""
    return Config(config).interpolate()["training"].get(name)


def _mixed(config: Config) -> bool:
    train_key = config["training"]["train_corpus"].split(".")[-1]
    return config["corpora"].get(train_key, {}).get("@readers") == MIXED_CORPUS


def _with_progress(config: Config, run: str, steps_before: int, epochs_before: int) -> Config:
    config = config.copy()
    recorder = {
        "@callbacks": "spacy-skd.progress.v1",
        "run": run,
        "steps_before": steps_before,
        "epochs_before": epochs_before,
    }
    own = config["training"].get("before_update")
    if isinstance(own, dict) and own.get("@callbacks") == recorder["@callbacks"]:
        own = own.get("then")
    if own is not None:
        recorder["then"] = own
    config["training"]["before_update"] = recorder
    return config


def _steps_left(config: Config, progress: Dict[str, Any]) -> Optional[int]:
    """The steps a resumed run still trains (spaCy's loop runs max_steps + 1
    updates, step 0 to max_steps); None without a step limit."""
    max_steps = _training(config, "max_steps") or 0
    if not max_steps:
        return None
    return max(0, max_steps - progress["step"])


def _resumed_config(config: Config, checkpoint: Path, run: str, progress: Dict[str, Any]) -> Config:
    """`config` with every component but the distiller sourced from `checkpoint`,
    the steps (and epochs) left to train, and no pretrained tok2vec weights."""
    config = _with_progress(config, run, progress["step"], progress["epoch"])
    for name in config["nlp"]["pipeline"]:
        if config["components"][name].get("factory") != DISTILLER_FACTORY:
            config["components"][name] = {"source": str(checkpoint)}
    training = config["training"]
    left = _steps_left(config, progress)
    if left:
        training["max_steps"] = left
    max_epochs = _training(config, "max_epochs") or 0
    if max_epochs > 0:
        training["max_epochs"] = max(1, max_epochs - progress["epoch"])
    if "init_tok2vec" in config.get("initialize", {}):
        config["initialize"]["init_tok2vec"] = None
    return config


def _checkpoint(output_path: Path, run: str) -> Optional[Path]:
    """The most advanced checkpoint of run `run`: `model-last`, or the one a
    resumed run started from (`.resume/model-last`), or None."""
    found = []
    for folder in (output_path / LAST, output_path / RESUME_DIR / LAST):
        progress = read_progress(folder)
        if progress is not None and progress.get("run") == run:
            found.append((progress["step"], folder))
    return max(found)[1] if found else None


def _set_aside(output_path: Path, checkpoint: Path, weights: Dict[str, Any]) -> None:
    """Move the checkpoint (already loaded) and the better of the best models
    into `.resume/`, out of the way of spaCy's loop, which deletes both."""
    aside = output_path / RESUME_DIR
    aside.mkdir(exist_ok=True)
    if checkpoint != aside / LAST:
        _replace(checkpoint, aside / LAST)
    if _score(output_path / BEST, weights) > _score(aside / BEST, weights):
        _replace(output_path / BEST, aside / BEST)


def _keep_better_best(output_path: Path, weights: Dict[str, Any]) -> None:
    """Keep as `model-best` the better of the resumed run's and the one set aside."""
    aside = output_path / RESUME_DIR / BEST
    if _score(aside, weights) > _score(output_path / BEST, weights):
        _replace(aside, output_path / BEST)


def _settle(output_path: Path, last: Path) -> None:
    """End a run whose last checkpoint is `last`: it becomes `model-last`, marked
    finished, the better best model `model-best`, and `.resume/` goes."""
    weights = _score_weights(last)
    if last != output_path / LAST:
        _replace(last, output_path / LAST)
    _keep_better_best(output_path, weights)
    _mark_finished(output_path / LAST)
    shutil.rmtree(output_path / RESUME_DIR, ignore_errors=True)


def _score_weights(pipeline: Path) -> Dict[str, Any]:
    """The score weights a saved pipeline was trained with."""
    config = load_config(pipeline / "config.cfg", interpolate=False)
    return dict(config["training"]["score_weights"])


def _score(pipeline: Path, weights: Dict[str, Any]) -> float:
    """The weighted score spaCy selected `pipeline` by (from its meta.json), or
    -inf where there is none."""
    try:
        meta = json.loads((pipeline / "meta.json").read_text(encoding="utf8"))
    except (OSError, ValueError):
        return float("-inf")
    performance = meta.get("performance", {})
    return sum(float(performance.get(name, 0.0)) * w for name, w in weights.items() if w)


def _replace(source: Path, target: Path) -> None:
    """Put the folder `source` at `target`, removing what was there."""
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        target.rename(old)
        shutil.rmtree(old)
    source.rename(target)


def _mark_finished(pipeline: Path) -> None:
    """Record in a saved pipeline's meta.json that its run has finished."""
    path = pipeline / "meta.json"
    if not path.exists():
        return
    meta = json.loads(path.read_text(encoding="utf8"))
    meta.setdefault(PROGRESS, {})["finished"] = True
    partial = path.with_name(f".meta.json.{os.getpid()}.tmp")
    partial.write_text(json.dumps(meta, indent=2), encoding="utf8")
    os.replace(partial, path)
