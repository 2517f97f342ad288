"""Fill a teacher-target cache for a whole corpus ahead of training, so the
teacher runs once, on whatever machine is fastest, and students train anywhere
from the cache (`cache_dir` of the skd_distiller).

The corpus is streamed: `read_corpus` yields one `RawDoc` at a time, and at most
a few batches are held in memory, however large the corpus (a `.spacy` DocBin is
the exception: spaCy reads it whole). Docs whose entry is already in the cache are
skipped, so a killed run resumes where it stopped; the cache writes each entry
atomically, so a kill leaves no partial entry. A bad line of a text corpus (not
UTF-8, longer than `max_line_chars`, not JSON) stops the run with an error naming
the file and line, keeping what was written: fixed, the corpus resumes likewise.

Docs are made the way spaCy's corpus readers make a training example's predicted
doc: `.spacy` files give `nlp.make_doc(reference.text)` (or the reference's own
words with `gold_preproc`) with the gold sentence starts aligned to it; plain
text (one doc per line) and JSONL (`{"text": ...}` per line) give
`nlp.make_doc(text)` with no sentences. The keys then match those the distiller
computes in training, provided the student tokenizes like the teacher (the same
language defaults); a mismatch costs cache misses, never wrong targets.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Callable, Iterable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.vocab import Vocab

from ..text_files import MAX_LINE_CHARS, TEXT_SUFFIXES, read_texts
from .cache import TargetCache
from .teacher import Teacher, load_teacher

# words, spaces, sentence starts (None: the teacher's senter decides)
DocSpec = Tuple[List[str], List[bool], Optional[List[Optional[bool]]]]
# called as work is done: (docs annotated, their words, docs found in the cache)
Progress = Callable[[int, int, int], None]
# docs found in the cache that are reported at once, while no batch is due
_FOUND_PER_REPORT = 1024


class RawDoc(NamedTuple):
    """A corpus doc before the teacher's tokenizer: its text and, for a `.spacy`
    reference, its own tokens and its gold sentence starts (None: no sentences)."""

    text: str
    words: Optional[List[str]] = None
    spaces: Optional[List[bool]] = None
    sent_starts: Optional[List[Optional[bool]]] = None


def read_corpus(path: Path, max_line_chars: int = MAX_LINE_CHARS) -> Iterator[RawDoc]:
    """The docs of a `.spacy`, `.txt` or `.jsonl` corpus, one at a time; blank
    lines are skipped, a bad line of text is an error naming the file and line
    (`spacy_skd.text_files.read_texts`)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".spacy":
        yield from _read_docbin(path)
        return
    if suffix not in TEXT_SUFFIXES:
        raise ValueError(f"{path}: expected a .spacy DocBin, a .txt or a .jsonl file")
    for _, text in read_texts(path, max_line_chars):
        yield RawDoc(text)


def _read_docbin(path: Path) -> Iterator[RawDoc]:
    try:
        references = DocBin().from_disk(path).get_docs(Vocab())
    except ValueError as error:
        raise ValueError(f"{path} is not a spaCy DocBin: {error}") from None
    for reference in references:
        starts = None
        if reference.has_annotation("SENT_START"):
            starts = [token.is_sent_start for token in reference]
        yield RawDoc(
            reference.text,
            [token.text for token in reference],
            [bool(token.whitespace_) for token in reference],
            starts,
        )


def estimate_docs(path: Path) -> int:
    """About how many docs `read_corpus(path)` yields, without reading them: the
    lines of a text file (counted in one pass over its bytes, blank lines
    included) or the docs of a DocBin; 0 when unknown."""
    path = Path(path)
    if path.suffix.lower() == ".spacy":
        try:
            return len(DocBin().from_disk(path))
        except ValueError:
            return 0
    lines, last = 0, b"\n"
    with path.open("rb") as data:
        for chunk in iter(lambda: data.read(1 << 20), b""):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def doc_spec(nlp: Language, raw: RawDoc, gold_preproc: bool = False) -> DocSpec:
    """The words, spaces and sentence starts the distiller gives the teacher for
    `raw`, tokenized by `nlp` (or with the reference's own tokens under
    `gold_preproc`)."""
    if gold_preproc and raw.words is not None:
        doc = Doc(nlp.vocab, words=raw.words, spaces=raw.spaces)
    else:
        doc = nlp.make_doc(raw.text)
    starts = None
    if raw.sent_starts is not None:
        reference = Doc(nlp.vocab, words=raw.words, spaces=raw.spaces, sent_starts=raw.sent_starts)
        starts = Example(doc, reference).get_aligned_sent_starts()
    return [t.text for t in doc], [bool(t.whitespace_) for t in doc], starts


def teacher_doc(teacher: Teacher, spec: DocSpec) -> Doc:
    """The teacher's doc for `spec` (see `Teacher.doc_for`)."""
    words, spaces, starts = spec
    return teacher.doc_for(Doc(teacher.nlp.vocab, words=words, spaces=spaces), starts)


def annotate_docs(teacher: Teacher, cache: TargetCache, docs: List[Doc]) -> int:
    """Run the teacher on `docs` (made by `teacher_doc`) and write their entries
    to the cache's folder, keeping none in memory; the words annotated."""
    if not docs:
        return 0
    keys = [teacher.key(doc) for doc in docs]
    for key, entry in zip(keys, teacher.annotate(docs)):
        cache.put(key, entry)
        cache.forget(key)
    return sum(len(doc) for doc in docs)


def teacher_settings(
    top_k: int = 8, dense_up_to: int = 64, hidden_layers: Sequence[int] = ()
) -> dict:
    """The keyword arguments of `Teacher` that decide what an entry holds."""
    return {"hidden_layers": tuple(hidden_layers), "top_k": top_k, "dense_up_to": dense_up_to}


def annotate_corpus(
    teacher_path: str,
    corpus: Path,
    cache_dir: Path,
    *,
    batch_size: int = 32,
    n_process: int = 1,
    gold_preproc: bool = False,
    top_k: int = 8,
    dense_up_to: int = 64,
    hidden_layers: Sequence[int] = (),
    gpu_id: int = -1,
    max_line_chars: int = MAX_LINE_CHARS,
    progress: Optional[Progress] = None,
) -> Tuple[int, int]:
    """Annotate every doc of `corpus` not yet in the cache under `cache_dir`;
    (docs annotated now, docs found done).

    The corpus is read as a stream; with `n_process` > 1, batches go to a pool of
    worker processes, each with its own teacher, at most two per worker at a
    time. `gpu_id` >= 0 runs the teacher (in every worker) on that CUDA device.
    A bad line of a text corpus (see `read_corpus`; `max_line_chars`) stops the
    run with its error; the entries written stay, and a rerun resumes.
    `progress(docs, words, found)` is called as batches finish."""
    settings = teacher_settings(top_k, dense_up_to, hidden_layers)
    if gpu_id >= 0 and n_process <= 1:
        _require_gpu(gpu_id)
    teacher = Teacher(load_teacher(teacher_path), **settings)
    cache = TargetCache(teacher.fingerprint, cache_dir)
    raws = read_corpus(corpus, max_line_chars)
    batches = _batches_to_do(teacher, cache, raws, gold_preproc, batch_size)
    if n_process <= 1:
        made, found = _annotate_here(teacher, cache, batches, progress)
    else:
        worker = (teacher_path, str(cache_dir), settings, gpu_id, _threads_per(n_process))
        made, found = _annotate_in_pool(worker, n_process, batches, progress)
    return corpus_counts(corpus, made, found)


def corpus_counts(corpus: Path, made: int, found: int) -> Tuple[int, int]:
    """(docs annotated now, docs found done) of a whole `corpus`; a corpus that
    held no docs is an error."""
    if made + found == 0:
        raise ValueError(f"{corpus} holds no docs")
    return made, found


def _batches_to_do(
    teacher: Teacher,
    cache: TargetCache,
    raws: Iterable[RawDoc],
    gold_preproc: bool,
    batch_size: int,
) -> Iterator[Tuple[List[DocSpec], int]]:
    """(batch of docs missing from the cache, docs found in it since the last
    item): a full batch, or an empty one when many docs were found done."""
    batch: List[DocSpec] = []
    found = 0
    for raw in raws:
        spec = doc_spec(teacher.nlp, raw, gold_preproc)
        if cache.has(teacher.key(teacher_doc(teacher, spec))):
            found += 1
        else:
            batch.append(spec)
        if len(batch) == batch_size:
            yield batch, found
            batch, found = [], 0
        elif found == _FOUND_PER_REPORT:
            yield [], found
            found = 0
    if batch or found:
        yield batch, found


def _annotate_here(
    teacher: Teacher,
    cache: TargetCache,
    batches: Iterable[Tuple[List[DocSpec], int]],
    progress: Optional[Progress],
) -> Tuple[int, int]:
    made = found = 0
    for batch, found_now in batches:
        words = annotate_docs(teacher, cache, [teacher_doc(teacher, s) for s in batch])
        made, found = made + len(batch), found + found_now
        if progress:
            progress(len(batch), words, found_now)
    return made, found


def _annotate_in_pool(
    worker: tuple,
    n_process: int,
    batches: Iterable[Tuple[List[DocSpec], int]],
    progress: Optional[Progress],
) -> Tuple[int, int]:
    made = found = 0
    running: set[Future] = set()

    def collect(futures: Iterable[Future]) -> None:
        nonlocal made
        for future in futures:
            docs, words = future.result()
            made += docs
            if progress:
                progress(docs, words, 0)

    with ProcessPoolExecutor(n_process, initializer=_init_worker, initargs=worker) as pool:
        for batch, found_now in batches:
            found += found_now
            if progress and found_now:
                progress(0, 0, found_now)
            if batch:
                running.add(pool.submit(_worker_batch, batch))
            while len(running) >= 2 * n_process:
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                collect(finished)
        collect(running)
    return made, found


def _threads_per(n_process: int) -> int:
    """Torch threads for each of `n_process` workers: the cores shared out."""
    return max(1, (os.cpu_count() or 1) // n_process)


def _require_gpu(gpu_id: int) -> None:
    import spacy

    spacy.require_gpu(gpu_id)


_WORKER: dict = {}


def _init_worker(
    teacher_path: str, cache_dir: str, settings: dict, gpu_id: int, threads: int
) -> None:
    import torch

    torch.set_num_threads(threads)
    if gpu_id >= 0:
        _require_gpu(gpu_id)
    teacher = Teacher(load_teacher(teacher_path), **settings)
    _WORKER["teacher"] = teacher
    _WORKER["cache"] = TargetCache(teacher.fingerprint, cache_dir)


def _worker_batch(batch: List[DocSpec]) -> Tuple[int, int]:
    teacher = _WORKER["teacher"]
    words = annotate_docs(teacher, _WORKER["cache"], [teacher_doc(teacher, s) for s in batch])
    return len(batch), words
