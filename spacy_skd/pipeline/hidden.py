"""Hidden-state KD in the distiller (Aguilar et al. 2020): the student's token
vectors, mapped to the teacher's width by the distiller's model (a projection
over a listener on the student's tok2vec), learn the mean of some of the teacher
transformer's layers pooled to tokens (`teacher.hidden`)."""

from __future__ import annotations

from typing import List, Optional, Sequence

import numpy
import torch
from spacy.tokens import Doc
from thinc.api import Model, Optimizer

from ..arrays import to_numpy
from ..losses.representation import HIDDEN_KINDS, hidden_state_loss
from ..teacher.teacher import HIDDEN
from .base import set_dropout_rate


def check_hidden_settings(
    name: str, model: Optional[Model], layers: Sequence[int], loss: str
) -> None:
    """Refuse hidden `layers` without a projection `model`, and an unknown `loss`."""
    if layers and model is None:
        raise ValueError(
            f"'{name}': hidden_layers needs a model that maps the student's token "
            "vectors to the teacher's width (spacy-skd.HiddenProjection.v1)"
        )
    if loss not in HIDDEN_KINDS:
        raise ValueError(f"'{name}': hidden_loss must be one of {HIDDEN_KINDS}")


def size_projection(model: Model, entry: dict, layers: Sequence[int]) -> None:
    """Size `model`'s projection from its tok2vec's width to the teacher's hidden
    width in the cache `entry` of one doc, and initialize it."""
    width = entry[f"{HIDDEN}.{layers[0]}"].shape[1]
    projection = model.get_ref("projection")
    projection.set_dim("nO", width)
    projection.set_dim("nI", model.get_ref("tok2vec").get_dim("nO"))
    model.initialize()


def hidden_kd_step(
    model: Model,
    docs: List[Doc],
    entries: List[dict],
    layers: Sequence[int],
    loss_kind: str,
    weight: float,
    *,
    drop: float = 0.0,
    sgd: Optional[Optimizer] = None,
) -> float:
    """One step of hidden-state KD through `model` on `docs` (their teacher's cache
    `entries`): the loss summed over tokens times `weight`, backpropagated, and
    the update made with `sgd` when given."""
    set_dropout_rate(model, drop)
    vectors, backprop = model.begin_update(docs)
    real = [i for i, doc in enumerate(docs) if len(doc)]
    if not real:
        return 0.0
    lengths = torch.tensor([len(docs[i]) for i in real])
    width = vectors[real[0]].shape[1]
    student = torch.zeros(len(real), int(lengths.max()), width, requires_grad=False)
    teacher = torch.zeros_like(student)
    names = [f"{HIDDEN}.{layer}" for layer in layers]
    for row, i in enumerate(real):
        student[row, : len(docs[i])] = torch.as_tensor(to_numpy(vectors[i]))
        target = numpy.mean([entries[i][name].astype("float32") for name in names], axis=0)
        teacher[row, : len(docs[i])] = torch.as_tensor(target)
    student.requires_grad_()
    loss = hidden_state_loss(student, teacher, lengths, loss_kind)
    loss = loss * lengths.sum() * weight
    loss.backward()
    d_vectors = [model.ops.alloc2f(*v.shape) for v in vectors]
    for row, i in enumerate(real):
        d_vectors[i] = model.ops.asarray2f(student.grad[row, : len(docs[i])].numpy())
    backprop(d_vectors)
    if sgd is not None:
        model.finish_update(sgd)
    return float(loss.detach())
