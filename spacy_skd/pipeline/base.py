"""What the spacy-skd components share: labels kept in `cfg["labels"]`, added
before `initialize` sizes the model, and dropout set on every layer."""

from __future__ import annotations

from spacy.pipeline.trainable_pipe import TrainablePipe
from thinc.api import Model


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


def set_dropout_rate(model: Model, drop: float) -> None:
    for node in model.walk():
        if "dropout_rate" in node.attrs:
            node.attrs["dropout_rate"] = drop
