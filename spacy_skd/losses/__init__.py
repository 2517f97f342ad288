"""Distillation objectives on tensors (pure PyTorch).

Conventions: student scores are differentiable, teacher targets constants; each
loss returns one scalar, a sum over sentences divided by the number of real
tokens; with a temperature T both sides' scores are divided by T and the loss
is multiplied by T^2.
"""

from .local import local_kd_loss
from .local_scores import local_scores_loss
from .representation import HiddenStateLoss, attention_kd_loss, hidden_state_loss
from .structural import check_structural_pair, structural_kd_loss
from .token import token_kd_loss

__all__ = [
    "token_kd_loss",
    "structural_kd_loss",
    "check_structural_pair",
    "local_kd_loss",
    "local_scores_loss",
    "hidden_state_loss",
    "HiddenStateLoss",
    "attention_kd_loss",
]
