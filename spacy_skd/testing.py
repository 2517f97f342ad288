"""Helpers for tests: keep the Hugging Face hub out of reach. The tiny offline
teacher they build is `spacy_skd.teacher.tiny_bert`."""

from __future__ import annotations

import os

__all__ = ["force_hf_offline"]


def force_hf_offline(monkeypatch=None) -> None:
    """Make any access to the Hugging Face hub fail at once instead of hanging
    or downloading: set HF_HUB_OFFLINE=1 and TRANSFORMERS_OFFLINE=1, and, since
    huggingface_hub and transformers read them only when first imported, also
    set the flags they cached. With a pytest `monkeypatch`, all of it is undone
    after the test; without one it lasts for the process."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if monkeypatch is None:
            os.environ[name] = "1"
        else:
            monkeypatch.setenv(name, "1")
    import huggingface_hub.constants
    import transformers.utils.hub

    for module, attr in (
        (huggingface_hub.constants, "HF_HUB_OFFLINE"),
        (transformers.utils.hub, "_is_offline_mode"),
    ):
        if monkeypatch is None:
            setattr(module, attr, True)
        else:
            monkeypatch.setattr(module, attr, True)
