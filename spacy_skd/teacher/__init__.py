"""Turning a teacher pipeline into targets for the students, and caching them."""

from .cache import FORMAT_VERSION, TargetCache, doc_key
from .exporters import export
from .hidden import pooled_hidden_states
from .teacher import Teacher, fingerprint, load_teacher

__all__ = [
    "FORMAT_VERSION",
    "TargetCache",
    "Teacher",
    "doc_key",
    "export",
    "fingerprint",
    "load_teacher",
    "pooled_hidden_states",
]
