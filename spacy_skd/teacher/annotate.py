"""Fill a teacher-target cache for a whole corpus ahead of training, so the
teacher runs once, on whatever machine is fastest, and students train anywhere
from the cache (`cache_dir` of the skd_distiller).

Docs are made the way spaCy's corpus readers make a training example's predicted
doc: `.spacy` files give `nlp.make_doc(reference.text)` (or the reference's own
words with `gold_preproc`) with the gold sentence starts aligned to it; plain
text (one doc per line) and JSONL (`{"text": ...}` per line) give
`nlp.make_doc(text)` with no sentences. The keys then match those the distiller
computes in training, provided the student tokenizes like the teacher (the same
language defaults); a mismatch costs cache misses, never wrong targets.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example

from .cache import TargetCache
from .teacher import Teacher, load_teacher

# words, spaces, sentence starts (None: the teacher's senter decides)
DocSpec = Tuple[List[str], List[bool], Optional[List[Optional[bool]]]]


def read_docs(path: Path, nlp: Language, gold_preproc: bool = False) -> Iterator[DocSpec]:
    """The docs of a `.spacy`, `.txt` or `.jsonl` corpus as the distiller sees them."""
    suffix = path.suffix.lower()
    if suffix == ".spacy":
        try:
            references = DocBin().from_disk(path).get_docs(nlp.vocab)
        except ValueError as error:
            raise ValueError(f"{path} is not a spaCy DocBin: {error}") from None
        for reference in references:
            if gold_preproc:
                doc = Doc(
                    nlp.vocab,
                    words=[t.text for t in reference],
                    spaces=[bool(t.whitespace_) for t in reference],
                )
            else:
                doc = nlp.make_doc(reference.text)
            starts = None
            if reference.has_annotation("SENT_START"):
                starts = Example(doc, reference).get_aligned_sent_starts()
            yield _spec(doc, starts)
        return
    if suffix not in (".txt", ".jsonl"):
        raise ValueError(f"{path}: expected a .spacy DocBin, a .txt or a .jsonl file")
    with path.open(encoding="utf8") as lines:
        for number, line in enumerate(lines, 1):
            if suffix == ".jsonl":
                try:
                    line = json.loads(line)["text"] if line.strip() else ""
                except (json.JSONDecodeError, KeyError, TypeError):
                    raise ValueError(f"{path}:{number}: not a JSON object with a 'text'") from None
            if line.strip():
                yield _spec(nlp.make_doc(line.strip()), None)


def _spec(doc: Doc, starts) -> DocSpec:
    return [t.text for t in doc], [bool(t.whitespace_) for t in doc], starts


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
    progress: Optional[Callable[[int], None]] = None,
) -> Tuple[int, int]:
    """Annotate every doc of `corpus` not yet in the cache under `cache_dir`;
    (docs annotated now, docs found done). `progress(n)` is called per batch."""
    nlp = load_teacher(teacher_path)
    settings = {"hidden_layers": tuple(hidden_layers), "top_k": top_k, "dense_up_to": dense_up_to}
    teacher = Teacher(nlp, **settings)
    cache = TargetCache(teacher.fingerprint, cache_dir)
    todo, done = [], 0
    for spec in read_docs(Path(corpus), nlp, gold_preproc):
        doc = _doc(teacher, spec)
        if cache.has(teacher.key(doc)):
            done += 1
        else:
            todo.append(spec)
    if not todo and done == 0:
        raise ValueError(f"{corpus} holds no docs")
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]
    if n_process <= 1:
        for batch in batches:
            _annotate_batch(teacher, cache, batch)
            if progress:
                progress(len(batch))
    else:
        args = (teacher_path, str(cache_dir), settings)
        with ProcessPoolExecutor(n_process, initializer=_init_worker, initargs=args) as pool:
            for n in pool.map(_worker_batch, batches):
                if progress:
                    progress(n)
    return len(todo), done


def _doc(teacher: Teacher, spec: DocSpec) -> Doc:
    words, spaces, starts = spec
    doc = Doc(teacher.nlp.vocab, words=words, spaces=spaces)
    return teacher.doc_for(doc, starts)


def _annotate_batch(teacher: Teacher, cache: TargetCache, batch: List[DocSpec]) -> None:
    docs = [_doc(teacher, spec) for spec in batch]
    keys = [teacher.key(doc) for doc in docs]
    for key, entry in zip(keys, teacher.annotate(docs)):
        cache.put(key, entry)
        cache.forget(key)


_WORKER: dict = {}


def _init_worker(teacher_path: str, cache_dir: str, settings: dict) -> None:
    teacher = Teacher(load_teacher(teacher_path), **settings)
    _WORKER["teacher"] = teacher
    _WORKER["cache"] = TargetCache(teacher.fingerprint, cache_dir)


def _worker_batch(batch: List[DocSpec]) -> int:
    _annotate_batch(_WORKER["teacher"], _WORKER["cache"], batch)
    return len(batch)
