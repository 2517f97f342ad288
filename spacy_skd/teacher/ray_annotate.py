"""`annotate_corpus` on a Ray cluster: teacher actors, one per GPU (or one per
`cpus_per_actor` CPUs where the cluster has no GPU), fill one cache folder that
every node mounts.

The driver reads the corpus as a stream and cuts it into shards of `shard_size`
docs; it needs neither the teacher nor the cache folder. Each shard goes to the
least busy actor (at most two queued per actor), which tokenizes it with its
teacher, skips the docs already in the cache, annotates the rest through the
cache's atomic writes and then writes the shard's done-marker (under `shards/`
in the cache's folder), named by a hash of the teacher's fingerprint, the
`gold_preproc` setting and the shard's docs: a rerun skips a finished shard
without looking at its entries, and fills whatever an unfinished one misses.

Ray restarts an actor that dies (`max_restarts`) and resends its shards
(`max_task_retries`); past that, the run stops with an error and a rerun
resumes. Importing this module imports Ray: `spacy-skd annotate` does so only
with `--ray`.
"""

from __future__ import annotations

import hashlib
import json
import socket
from itertools import islice
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import ray

from ..text_files import MAX_LINE_CHARS
from .annotate import (
    Progress,
    RawDoc,
    annotate_docs,
    corpus_counts,
    doc_spec,
    read_corpus,
    teacher_doc,
    teacher_settings,
)
from .cache import TargetCache, atomic_write
from .teacher import Teacher, load_teacher

MARKERS = "shards"
# shards queued per actor: one running, one waiting, so no actor idles
_SHARDS_PER_ACTOR = 2
# how long to wait for a cluster's address to answer before giving up
_PROBE_SECONDS = 5.0
_DEFAULT_PORTS = {"ray": 10001, "": 6379}


def connect(address: str) -> None:
    """Join the Ray cluster at `address`: 'auto' (the one this machine belongs
    to, or RAY_ADDRESS), 'local' (start one on this machine), 'HOST:PORT' (a
    head node) or 'ray://HOST:PORT' (Ray Client). An unreachable address fails
    within seconds, naming it. Nothing happens when Ray is already initialized
    in this process."""
    if address not in ("auto", "local"):
        _probe(address)
    if ray.is_initialized():
        return
    try:
        ray.init(address=address, log_to_driver=False)
    except ConnectionError as error:
        raise ValueError(f"cannot join the Ray cluster at {address!r}: {error}") from None


def _probe(address: str) -> None:
    """Fail fast where `ray.init` would wait: a host and port nobody answers on."""
    scheme, _, location = address.rpartition("://")
    host, _, port = location.rpartition(":")
    if not host or not port.isdigit():
        host, port = location, str(_DEFAULT_PORTS.get(scheme, _DEFAULT_PORTS[""]))
    try:
        socket.create_connection((host, int(port)), timeout=_PROBE_SECONDS).close()
    except OSError as error:
        raise ValueError(f"cannot reach the Ray cluster at {address!r}: {error}") from None


class TeacherActor:
    """One teacher on one node (on its GPU when Ray gave it one), writing the
    entries of the shards it is sent into the cache folder under `cache_dir`."""

    def __init__(self, teacher_path: str, cache_dir: str, settings: dict, threads: int):
        self.teacher_path = teacher_path
        self.cache_dir = cache_dir
        self.settings = settings
        self.threads = threads
        self._teacher = None
        self._cache = None

    def describe(self) -> Dict[str, str]:
        """The teacher's fingerprint and where this actor runs."""
        self._load()
        return {"fingerprint": self._teacher.fingerprint, "node": _node()}

    def annotate_shard(
        self, first: int, raws: List[RawDoc], batch_size: int, gold_preproc: bool
    ) -> Tuple[int, int, int]:
        """Annotate the docs of one shard (`first`: the corpus index of its first
        doc) missing from the cache; (docs annotated, their words, docs found)."""
        teacher, cache = self._load()
        marker = cache.folder / MARKERS / f"{self._shard_hash(raws, gold_preproc)}.done"
        if marker.exists():
            return 0, 0, len(raws)
        docs = [teacher_doc(teacher, doc_spec(teacher.nlp, raw, gold_preproc)) for raw in raws]
        todo = [doc for doc in docs if not cache.has(teacher.key(doc))]
        words = 0
        for start in range(0, len(todo), batch_size):
            words += annotate_docs(teacher, cache, todo[start : start + batch_size])
        summary = {"first_doc": first, "docs": len(raws), "annotated": len(todo), "node": _node()}
        atomic_write(marker, json.dumps(summary).encode("utf8"))
        return len(todo), words, len(docs) - len(todo)

    def _shard_hash(self, raws: List[RawDoc], gold_preproc: bool) -> str:
        digest = hashlib.sha256(self._teacher.fingerprint.encode())
        digest.update(json.dumps([gold_preproc, raws]).encode("utf8"))
        return digest.hexdigest()

    def _load(self):
        """The teacher and the cache, loaded on first use (also after a restart)."""
        if self._teacher is None:
            if ray.get_gpu_ids():
                import spacy

                spacy.require_gpu(0)  # Ray makes the actor's GPU the only one it sees
            else:
                import torch

                torch.set_num_threads(self.threads)
            try:
                nlp = load_teacher(self.teacher_path)
            except ValueError as error:
                raise ValueError(f"on {_node()}: {error}") from None
            self._teacher = Teacher(nlp, **self.settings)
            self._cache = TargetCache(self._teacher.fingerprint, self.cache_dir)
        return self._teacher, self._cache


def _node() -> str:
    return f"node {socket.gethostname()} ({ray.get_runtime_context().get_node_id()})"


class RayAnnotator:
    """Teacher actors on the Ray cluster this process has joined (see `connect`).

    actors: how many (default: one per GPU, else one per `cpus_per_actor` CPUs of
    the cluster); cpus_per_actor: CPUs (and torch threads) each actor takes;
    max_restarts: how often Ray restarts a dead actor, and resends its shards.
    A teacher that some node cannot load, or a different teacher on some node,
    fails here, naming the node. Use as a context manager to free the actors.
    """

    def __init__(
        self,
        teacher_path: str,
        cache_dir: Path,
        *,
        top_k: int = 8,
        dense_up_to: int = 64,
        hidden_layers: Sequence[int] = (),
        actors: Optional[int] = None,
        cpus_per_actor: int = 1,
        max_restarts: int = 3,
    ):
        if Path(teacher_path).exists():
            teacher_path = str(Path(teacher_path).resolve())
        count, resources = _actor_resources(actors, cpus_per_actor)
        remote = ray.remote(TeacherActor).options(
            max_restarts=max_restarts, max_task_retries=max_restarts, **resources
        )
        settings = teacher_settings(top_k, dense_up_to, hidden_layers)
        self.actors = [
            remote.remote(teacher_path, str(Path(cache_dir).resolve()), settings, cpus_per_actor)
            for _ in range(count)
        ]
        try:
            descriptions = _get([actor.describe.remote() for actor in self.actors])
        except ValueError:
            self.close()
            raise
        fingerprints = {found["fingerprint"] for found in descriptions}
        if len(fingerprints) > 1:
            self.close()
            nodes = "; ".join(
                f"{found['node']}: {found['fingerprint'][:12]}" for found in descriptions
            )
            raise ValueError(f"the teacher {teacher_path!r} differs between nodes ({nodes})")
        self.fingerprint = fingerprints.pop()

    def __enter__(self) -> RayAnnotator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """End the actors."""
        for actor in self.actors:
            ray.kill(actor)

    def annotate(
        self,
        corpus: Path,
        *,
        shard_size: int = 256,
        batch_size: int = 32,
        gold_preproc: bool = False,
        max_line_chars: int = MAX_LINE_CHARS,
        progress: Optional[Progress] = None,
    ) -> Tuple[int, int]:
        """Annotate every doc of `corpus` not yet in the cache; (docs annotated
        now, docs found done). A bad line of a text corpus (`read_corpus`) stops
        the run with its error; the entries written stay. `progress(docs, words,
        found)` per shard."""
        made = found = 0
        running: Dict[ray.ObjectRef, int] = {}

        def collect_one() -> None:
            nonlocal made, found
            (ready,), _ = ray.wait(list(running), num_returns=1)
            running.pop(ready)
            docs, words, found_now = _get(ready)
            made, found = made + docs, found + found_now
            if progress:
                progress(docs, words, found_now)

        for first, raws in _shards(read_corpus(corpus, max_line_chars), shard_size):
            while len(running) >= _SHARDS_PER_ACTOR * len(self.actors):
                collect_one()
            busy = [list(running.values()).count(i) for i in range(len(self.actors))]
            chosen = busy.index(min(busy))
            shard = self.actors[chosen].annotate_shard.remote(first, raws, batch_size, gold_preproc)
            running[shard] = chosen
        while running:
            collect_one()
        return corpus_counts(corpus, made, found)


def annotate_corpus_on_ray(
    teacher_path: str,
    corpus: Path,
    cache_dir: Path,
    *,
    address: str = "auto",
    shard_size: int = 256,
    batch_size: int = 32,
    gold_preproc: bool = False,
    top_k: int = 8,
    dense_up_to: int = 64,
    hidden_layers: Sequence[int] = (),
    actors: Optional[int] = None,
    cpus_per_actor: int = 1,
    max_line_chars: int = MAX_LINE_CHARS,
    progress: Optional[Progress] = None,
) -> Tuple[int, int]:
    """`annotate_corpus` on the Ray cluster at `address` (see `connect`)."""
    connect(address)
    with RayAnnotator(
        teacher_path,
        cache_dir,
        top_k=top_k,
        dense_up_to=dense_up_to,
        hidden_layers=hidden_layers,
        actors=actors,
        cpus_per_actor=cpus_per_actor,
    ) as annotator:
        return annotator.annotate(
            corpus,
            shard_size=shard_size,
            batch_size=batch_size,
            gold_preproc=gold_preproc,
            max_line_chars=max_line_chars,
            progress=progress,
        )


def _actor_resources(actors: Optional[int], cpus_per_actor: int) -> Tuple[int, dict]:
    """How many actors the cluster holds and what each asks for: a GPU each
    where there are GPUs, else `cpus_per_actor` CPUs."""
    cluster = ray.cluster_resources()
    cpus, gpus = int(cluster.get("CPU", 0)), int(cluster.get("GPU", 0))
    room = cpus // cpus_per_actor
    resources = {"num_cpus": cpus_per_actor}
    if gpus:
        room = min(room, gpus)
        resources["num_gpus"] = 1
    what = f"{gpus} GPUs and {cpus} CPUs" if gpus else f"{cpus} CPUs"
    if room < 1 or (actors is not None and actors > room):
        raise ValueError(
            f"the Ray cluster has {what}: room for {room} teacher actors of "
            f"{cpus_per_actor} CPUs{' and a GPU' if gpus else ''}, not {actors or 1}"
        )
    return actors or room, resources


def _shards(raws: Iterable[RawDoc], size: int) -> Iterator[Tuple[int, List[RawDoc]]]:
    """(index of the first doc, docs) per `size` docs of the stream."""
    raws = iter(raws)
    first = 0
    while shard := list(islice(raws, size)):
        yield first, shard
        first += len(shard)


def _get(refs):
    """`ray.get`, with the errors an actor raises (a teacher it cannot load) or
    meets (its death, past its restarts) told plainly."""
    try:
        return ray.get(refs)
    except ray.exceptions.RayTaskError as error:
        if isinstance(error.cause, ValueError):
            raise ValueError(str(error.cause)) from None
        raise
    except ray.exceptions.RayActorError as error:
        reason = str(error).strip().splitlines()[0]
        raise RuntimeError(
            f"a teacher actor died and was not restarted ({reason}); the entries written "
            "so far stay in the cache: rerun the same command to annotate the rest"
        ) from None
