"""CPU (and GPU) speed of a pipeline: words per second of `nlp.pipe` over a
corpus's texts, the median of repeated passes after a warm-up."""

from __future__ import annotations

import platform
import statistics
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import spacy
from spacy.language import Language
from spacy.tokens import DocBin
from tqdm import tqdm

from ..progress import progress_bar


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo", encoding="utf8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def directory_size_mb(path: Path) -> float:
    """Size on disk of a saved pipeline, in MB (1e6 bytes)."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 1e6


def corpus_texts(corpus: Path, nlp: Language) -> List[str]:
    """The raw texts of a `.spacy` DocBin; an empty corpus is an error."""
    texts = [doc.text for doc in DocBin().from_disk(corpus).get_docs(nlp.vocab)]
    if not texts:
        raise ValueError(f"{corpus} holds no docs")
    return texts


def time_passes(
    nlp: Language,
    texts: Sequence[str],
    *,
    repeats: int = 3,
    batch_size: int = 256,
    warmup: int = 50,
    progress: Optional[tqdm] = None,
) -> List[float]:
    """Words per second of each of `repeats` timed `nlp.pipe` passes over
    `texts`, after an untimed pass over the first `warmup` texts; `progress`
    advances by one per doc of each timed pass."""
    for _ in nlp.pipe(texts[:warmup], batch_size=batch_size):
        pass
    speeds = []
    for _ in range(repeats):
        n_words = 0
        start = time.perf_counter()
        for doc in nlp.pipe(texts, batch_size=batch_size):
            n_words += len(doc)
            if progress is not None:
                progress.update()
        speeds.append(n_words / (time.perf_counter() - start))
    return speeds


def benchmark_pipeline(
    path: Path,
    corpus: Path,
    *,
    repeats: int = 3,
    batch_size: int = 256,
    threads: int = 2,
    gpu_id: int = -1,
    quiet: bool = False,
) -> Dict:
    """Median words/s of `path` on `corpus` on the CPU with `threads` torch
    threads, and on GPU `gpu_id` too when it is >= 0; with the passes, the CPU's
    name and the size. A progress bar per device unless `quiet`."""
    import torch

    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        result = _time_devices(path, corpus, repeats, batch_size, gpu_id, quiet)
    finally:
        torch.set_num_threads(previous_threads)
    result.update({"threads": threads, "cpu": cpu_name(), "size_mb": directory_size_mb(path)})
    return result


def _time_devices(path, corpus, repeats, batch_size, gpu_id, quiet) -> Dict:
    """Median and passes of words/s on the CPU, then on GPU `gpu_id` if >= 0."""
    from thinc.api import require_cpu, require_gpu

    result: Dict = {"gpu_words_per_second": None}
    devices = [("cpu", -1)] + ([("gpu", gpu_id)] if gpu_id >= 0 else [])
    n_docs = len(DocBin().from_disk(corpus))
    for device, index in devices:
        if index >= 0:
            require_gpu(index)
        else:
            require_cpu()
        with progress_bar(n_docs * repeats, f"timing on the {device.upper()}", quiet=quiet) as bar:
            nlp = spacy.load(path)
            speeds = time_passes(
                nlp,
                corpus_texts(corpus, nlp),
                repeats=repeats,
                batch_size=batch_size,
                progress=bar,
            )
        result[f"{device}_words_per_second"] = statistics.median(speeds)
        result[f"{device}_passes"] = speeds
    if gpu_id >= 0:
        require_cpu()
    return result
