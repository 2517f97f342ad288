"""What the spacy-skd components share: labels kept in `cfg["labels"]`, added
before `initialize` sizes the model, and dropout set on every layer."""

from __future__ import annotations

import math
from typing import Dict, Iterable, List, Optional

from spacy.pipeline.trainable_pipe import TrainablePipe
from spacy.training import Example, validate_examples
from thinc.api import Model, Optimizer


class LabelledPipe(TrainablePipe):
    """A TrainablePipe whose labels live in `cfg["labels"]`; subclasses say when
    the model's output size is fixed (`_is_sized`)."""

    @property
    def labels(self) -> tuple:
        return tuple(self.cfg["labels"])

    @property
    def label_data(self) -> tuple:
        return self.labels

    def _is_sized(self) -> bool:
        """True once the model's output size is set (at initialize)."""
        raise NotImplementedError

    def add_label(self, label: str) -> int:
        if not isinstance(label, str):
            raise ValueError(f"label must be a string, got {label!r}")
        if label in self.labels:
            return 0
        if self._is_sized():
            raise ValueError(
                f"Cannot add label {label!r} to '{self.name}' after it was initialized "
                f"with {len(self.labels)} labels"
            )
        self.cfg["labels"].append(label)
        self.vocab.strings.add(label)
        return 1

    def finish_update(self, sgd: Optimizer) -> None:
        """Update the parameters, at `cfg["learn_rate_scale"]` times the
        optimizer's learning rate (components that listen to a tok2vec have
        none of its parameters: it updates them itself)."""
        scale = self.cfg.get("learn_rate_scale", 1.0)
        if scale == 1.0:
            self.model.finish_update(sgd)
        else:
            finish_update_scaled(self.model, sgd, scale)

    def _score_arrays(self, scores) -> Iterable:
        """The arrays of a forward pass's output (a list of arrays by default)."""
        return scores

    def _check_finite(self, scores) -> None:
        """Stop training with a clear error when the model's outputs are NaN or
        infinite: its weights have diverged, and a loss computed from them would
        spread NaN into every weight it reaches."""
        for array in self._score_arrays(scores):
            if not self.model.ops.xp.isfinite(array).all():
                raise ValueError(
                    f"'{self.name}': the model's scores contain NaN or infinite values, "
                    "so its weights have diverged; lower the learning rate or the "
                    "gradient clipping threshold (training.optimizer.grad_clip)"
                )

    def _prepare_update(self, examples: List[Example]) -> None:
        """Set what training needs on the predicted docs before the forward pass."""

    def _loss_and_gradients(self, examples: List[Example], scores) -> tuple:
        """(loss, d_scores) for one batch, by one torch backward."""
        raise NotImplementedError

    def _backprop_loss(self, examples: List[Example], scores) -> tuple:
        """(loss, d_scores), also adding the gradients of parameters the loss
        reads directly (not through `scores`)."""
        return self._loss_and_gradients(examples, scores)

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
    ) -> Dict[str, float]:
        """One step: gold and, where a teacher's targets are on the doc, KD, in one
        loss and one backward pass (so listeners see one backprop)."""
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        examples = list(examples)
        validate_examples(examples, f"{type(self).__name__}.update")
        if not any(len(eg.predicted) for eg in examples):
            return losses
        self._prepare_update(examples)
        set_dropout_rate(self.model, drop)
        scores, backprop = self.model.begin_update([eg.predicted for eg in examples])
        self._check_finite(scores)
        loss, d_scores = self._backprop_loss(examples, scores)
        if not math.isfinite(loss):
            raise ValueError(
                f"'{self.name}': the training loss is {loss}, so its gradients would "
                "spread NaN into the weights; check the teacher's targets and the KD "
                "method of this component, or lower the learning rate"
            )
        backprop(d_scores)
        if sgd is not None:
            self.finish_update(sgd)
        losses[self.name] += loss
        return losses


def finish_update_scaled(model: Model, sgd: Optimizer, scale: float) -> None:
    """`model.finish_update(sgd)` with the learning rate multiplied by `scale`."""
    for node in model.walk():
        for shim in node.shims:
            shim.finish_update(sgd)
    for node in model.walk():
        for name in node.param_names:
            if node.has_grad(name):
                param, _ = sgd(
                    (node.id, name), node.get_param(name), node.get_grad(name), lr_scale=scale
                )
                node.set_param(name, param)


def set_dropout_rate(model: Model, drop: float) -> None:
    for node in model.walk():
        if "dropout_rate" in node.attrs:
            node.attrs["dropout_rate"] = drop
