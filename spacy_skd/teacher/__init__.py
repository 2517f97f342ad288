"""Turning a teacher pipeline into targets for the students, and caching them."""

from .cache import FORMAT_VERSION, TargetCache, doc_key
from .exporters import export, from_entry, to_entry
from .hidden import pooled_hidden_states
from .teacher import Teacher, fingerprint, load_teacher

__all__ = [
    "FORMAT_VERSION",
    "TargetCache",
    "Teacher",
    "doc_key",
    "export",
    "fingerprint",
    "from_entry",
    "load_teacher",
    "pooled_hidden_states",
    "to_entry",
]
