"""Training that survives interruption: `train_pipeline` runs spaCy's own
initialization and training loop and, asked to resume, continues an unfinished
run from its `model-last` (what `spacy-skd train --resume` and `spacy-skd distill
--resume` do).

Every checkpoint's meta.json records how far the run had got (the
`spacy-skd.progress.v1` callback, added as `[training.before_update]`: the step,
the epoch, a fingerprint of the config and of the files it names), every
checkpoint holds the training state (`checkpoint_state`: the optimizer's, the
updates done, the random generators'), and a run that ends normally is marked
finished. Resuming a run of the same fingerprint sources every component but the
distiller from the checkpoint (`[components.X] source`), initializes the
distiller afresh (its teacher loaded, its weights, a hidden-state KD projection,
then taken from the checkpoint), replays the batches already trained on without
training on them (so readers, shuffles and the batch-size schedule go on where
they were), restores the training state and trains the steps left. Not restored:
patience, which counts from the resumption. spaCy's loop
deletes `model-best` and `model-last` when it starts, so the checkpoint and best
model are first moved to `OUTPUT/.resume/`; afterwards the better of the two best
models (by the config's score weights) is kept as `model-best`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterable, List, Optional

from spacy.language import Language
from spacy.training.initialize import init_nlp
from spacy.training.loop import train as train_nlp
from spacy.util import load_config, registry
from thinc.api import Config

from .checkpoint_state import STATE_FILE, forget, optimizer_of, read_updates, restore_state
from .corpus import MIXED_CORPUS
from .initial_weights import INITIAL_WEIGHTS

PROGRESS = "skd_progress"
RESUME_DIR = ".resume"
LAST = "model-last"
BEST = "model-best"
DISTILLER_FACTORY = "skd_distiller"
SKIPPING_BATCHER = "spacy-skd.skipping_batcher.v1"


@registry.callbacks("spacy-skd.progress.v1")
def create_progress_recorder(
    run: str,
    steps_before: int = 0,
    epochs_before: int = 0,
    then: Optional[Callable[[Language, Dict[str, Any]], None]] = None,
    state: Optional[str] = None,
) -> Callable[[Language, Dict[str, Any]], None]:
    """A `[training.before_update]` callback that writes into `nlp.meta` (so into
    every checkpoint's meta.json) the run's fingerprint `run` and the steps and
    epochs done before this step (counting `steps_before`, `epochs_before` of
    the runs it resumes), then calls `then` (the config's own callback). Before
    the first update it restores the training state saved at `state` (a resumed
    run's checkpoint), if given."""
    pending = [state]

    def before_update(nlp: Language, args: Dict[str, Any]) -> None:
        if pending[0] is not None:
            _restore_distillers(nlp, Path(pending[0]).parent)
            optimizer = optimizer_of(run)
            if optimizer is not None:
                restore_state(nlp, optimizer, Path(pending[0]))
            pending[0] = None
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
        progress = _progress(checkpoint)
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
            nlp = _initialized(_with_progress(config, run, 0), use_gpu)
        _train(nlp, output_path, use_gpu, stdout, run)
    else:
        state = output_path / RESUME_DIR / LAST / STATE_FILE
        resumed = _resumed_config(config, checkpoint, run, progress, state)
        with show_validation_error(hint_fill=False):
            nlp = _initialized(resumed, use_gpu)
        restored = (checkpoint / STATE_FILE).exists()
        stdout.write(
            f"Resuming {output_path} from its checkpoint after {progress['step']} steps"
            + (f", {left} steps left" if left else "")
            + (
                "; replaying the batches already trained on, then restoring the optimizer"
                if restored
                else "; the checkpoint holds no optimizer state: it starts afresh"
            )
            + "\n"
        )
        weights = _score_weights(checkpoint)
        _set_aside(output_path, checkpoint, weights)
        try:
            _train(nlp, output_path, use_gpu, stdout, run)
        finally:
            _keep_better_best(output_path, weights)
    _settle(output_path, output_path / LAST)
    return output_path


def _train(nlp: Language, output_path: Path, use_gpu: int, stdout: IO, run: str) -> None:
    try:
        train_nlp(nlp, output_path, use_gpu=use_gpu, stdout=stdout, stderr=sys.stderr)
    finally:
        forget(run)


def _progress(checkpoint: Path) -> Dict[str, Any]:
    """The checkpoint's recorded progress, its step the updates done where its
    training state counts them (a checkpoint saved after step s's update holds
    s + 1 of them)."""
    progress = dict(read_progress(checkpoint) or {})
    updates = read_updates(checkpoint / STATE_FILE)
    if updates is not None:
        progress["step"] = updates
    return progress


def _distillers(nlp: Language) -> List[str]:
    """The names of the pipes that are initialized afresh on resuming."""
    return [name for name in nlp.pipe_names if nlp.get_pipe_meta(name).factory == DISTILLER_FACTORY]


def _restore_distillers(nlp: Language, checkpoint: Path) -> None:
    """Load into each distiller initialized afresh the weights it had in
    `checkpoint` (a hidden-state KD projection; a distiller without weights has
    nothing to load)."""
    for name in _distillers(nlp):
        model = nlp.get_pipe(name).model
        saved = checkpoint / name / "model"
        if saved.exists() and any(node.param_names for node in model.walk()):
            model.from_disk(saved)


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


def _with_progress(
    config: Config, run: str, steps_before: int, state: Optional[Path] = None
) -> Config:
    """`config` with the callbacks that record progress and save the training
    state (restoring it from `state` when given) wrapped around its own."""
    config = config.copy()
    training = config["training"]
    recorder = _wrapped(training, "before_update", "@callbacks", "spacy-skd.progress.v1")
    # a resumed run replays its batches, so its loop counts the epochs before it again
    recorder.update({"run": run, "steps_before": steps_before})
    if state is not None:
        recorder["state"] = str(state)
    _wrapped(training, "before_to_disk", "@misc", "spacy-skd.state_saves.v1")["run"] = run
    optimizer = "spacy-skd.checkpointed_optimizer.v1"
    _wrapped(training, "optimizer", "@optimizers", optimizer, own_as="optimizer")["run"] = run
    return config


def _wrapped(
    training: Dict[str, Any], name: str, kind: str, function: str, own_as: str = "then"
) -> Dict[str, Any]:
    """Set `training[name]` to a fresh block of registered `function` around the
    config's own block (its argument `own_as`), unwrapping an earlier block of
    the same function."""
    own = training.get(name)
    if isinstance(own, dict) and own.get(kind) == function:
        own = own.get(own_as)
    block: Dict[str, Any] = {kind: function}
    if own is not None:
        block[own_as] = own
    training[name] = block
    return block


def _steps_left(config: Config, progress: Dict[str, Any]) -> Optional[int]:
    """The steps a resumed run still trains (spaCy's loop runs max_steps + 1
    updates, step 0 to max_steps); None without a step limit."""
    max_steps = _training(config, "max_steps") or 0
    if not max_steps:
        return None
    return max(0, max_steps - progress["step"])


def _resumed_config(
    config: Config, checkpoint: Path, run: str, progress: Dict[str, Any], state: Path
) -> Config:
    """`config` with every component but the distiller sourced from `checkpoint`,
    the batches already trained on skipped, the steps (and epochs) left to train,
    the training state restored from `state` and no pretrained tok2vec or
    initial weights (`--init-from`): the checkpoint's are newer."""
    config = _with_progress(config, run, progress["step"], state)
    for name in config["nlp"]["pipeline"]:
        if config["components"][name].get("factory") != DISTILLER_FACTORY:
            config["components"][name] = {"source": str(checkpoint)}
    training = config["training"]
    skipping = _wrapped(training, "batcher", "@batchers", SKIPPING_BATCHER, own_as="batcher")
    skipping["skip"] = progress["step"]
    left = _steps_left(config, progress)
    if left:
        training["max_steps"] = left
    initialize = config.get("initialize", {})
    if "init_tok2vec" in initialize:
        initialize["init_tok2vec"] = None
    if (initialize.get("after_init") or {}).get("@callbacks") == INITIAL_WEIGHTS:
        initialize["after_init"] = None
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
    for pipeline in (LAST, BEST):
        (output_path / pipeline / STATE_FILE).unlink(missing_ok=True)
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
