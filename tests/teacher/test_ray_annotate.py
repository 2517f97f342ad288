"""Annotation on Ray (a local Ray started here, one session for the module): the
same cache as one process, finished shards skipped on a rerun, a killed actor
restarted or, when it stays dead, the rest filled by a rerun; bad addresses and
teachers fail naming what is wrong."""

import socket
import time

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_skd.cli import app
from spacy_skd.teacher.annotate import annotate_corpus
from tests.small_teacher import gold_examples
from tests.teacher.cache_entries import assert_same_entries, entries

ray = pytest.importorskip("ray")
from spacy_skd.teacher.ray_annotate import MARKERS, RayAnnotator, connect  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:.*without sentence boundaries")
WORDS = ["They like eggs", "I eat green ham . Eat eggs", "they eat blue eggs", "Eat ham"]
TEXTS = [f"{WORDS[i % 4]} {i}" for i in range(13)]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(
        num_cpus=2,
        object_store_memory=80 * 1024 * 1024,
        include_dashboard=False,
        log_to_driver=False,
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpora")
    DocBin(docs=[eg.reference for eg in gold_examples(spacy.blank("en"))]).to_disk(
        folder / "train.spacy"
    )
    (folder / "raw.txt").write_text("\n".join(TEXTS) + "\n")
    return folder / "train.spacy", folder / "raw.txt"


@pytest.fixture(scope="module")
def reference(teacher_path, corpora, tmp_path_factory):
    """The cache one process fills for both corpora."""
    cache = tmp_path_factory.mktemp("reference")
    for corpus in corpora:
        annotate_corpus(str(teacher_path), corpus, cache, batch_size=2)
    return entries(cache)


def annotate_all(annotator, corpora, **options):
    counts = [annotator.annotate(c, shard_size=2, batch_size=2, **options) for c in corpora]
    return tuple(map(sum, zip(*counts)))


def test_ray_fills_the_cache_one_process_fills_and_skips_finished_shards(
    local_ray, teacher_path, corpora, reference, tmp_path
):
    cache = tmp_path / "cache"
    with RayAnnotator(str(teacher_path), cache, actors=2) as annotator:
        assert annotate_all(annotator, corpora) == (16, 0)
        assert_same_entries(entries(cache), reference)
        (markers,) = cache.glob(f"v*/{MARKERS}")
        assert len(list(markers.glob("*.done"))) == 2 + 7
        # a finished shard is trusted: its entries are not looked at again ...
        removed = next(cache.glob("v*/*.npz"))
        removed.unlink()
        assert annotate_all(annotator, corpora) == (0, 16)
        assert not removed.exists()
        # ... an unfinished one is, and the missing entry is made again
        for marker in markers.glob("*.done"):
            marker.unlink()
        assert annotate_all(annotator, corpora) == (1, 15)
    assert_same_entries(entries(cache), reference)


def test_a_killed_actor_is_restarted_and_the_cache_is_complete(
    local_ray, teacher_path, corpora, reference, tmp_path
):
    cache = tmp_path / "cache"
    with RayAnnotator(str(teacher_path), cache, actors=1) as annotator:
        kills = []

        def kill_once(docs, words, found):
            if not kills:
                kills.append(ray.kill(annotator.actors[0], no_restart=False))

        made, found = annotate_all(annotator, corpora, progress=kill_once)
        assert kills and made + found == 16
        # the killed actor answers again: Ray restarted it
        restarted = ray.get(annotator.actors[0].describe.remote())
        assert restarted["fingerprint"] == annotator.fingerprint
    assert_same_entries(entries(cache), reference)


def test_an_actor_that_stays_dead_stops_the_run_and_a_rerun_completes(
    local_ray, teacher_path, corpora, reference, tmp_path
):
    cache = tmp_path / "cache"
    spacy_path, txt_path = corpora
    with RayAnnotator(str(teacher_path), cache, actors=1) as annotator:

        def kill(docs, words, found):
            ray.kill(annotator.actors[0], no_restart=True)

        with pytest.raises(RuntimeError, match="rerun the same command"):
            annotator.annotate(txt_path, shard_size=2, batch_size=2, progress=kill)
    assert 0 < len(entries(cache)) < 13
    with RayAnnotator(str(teacher_path), cache, actors=1) as annotator:
        made, found = annotate_all(annotator, corpora)
    assert 0 < found < 16 and made + found == 16
    assert_same_entries(entries(cache), reference)


def test_the_cli_runs_on_ray(local_ray, teacher_path, corpora, reference, tmp_path):
    cache = tmp_path / "cache"
    _, txt_path = corpora
    args = ["annotate", str(teacher_path), str(txt_path), str(cache), "--ray", "auto"]
    result = CliRunner().invoke(app, args + ["--ray-actors", "1", "--shard-size", "4", "-q"])
    assert result.exit_code == 0, result.output
    assert "Annotated 13 docs" in result.output
    made = entries(cache)
    assert len(made) == 13
    assert_same_entries(made, {key: reference[key] for key in made})


def test_a_teacher_missing_on_a_node_is_reported_with_the_node(local_ray, tmp_path):
    missing = tmp_path / "nowhere" / "teacher"
    with pytest.raises(ValueError) as error:
        RayAnnotator(str(missing), tmp_path / "cache", actors=1)
    assert str(missing) in str(error.value)
    assert f"node {socket.gethostname()} (" in str(error.value)
    assert ray.get_runtime_context().get_node_id() in str(error.value)


def test_more_actors_than_the_cluster_holds_fail(local_ray, teacher_path, tmp_path):
    with pytest.raises(ValueError, match="room for 1 teacher actors of 2 CPUs, not 2"):
        RayAnnotator(str(teacher_path), tmp_path / "cache", actors=2, cpus_per_actor=2)


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_unreachable_address_fails_in_seconds(scheme):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"{scheme}127.0.0.1:{port}"
    start = time.perf_counter()
    with pytest.raises(ValueError, match=f"cannot reach the Ray cluster at '{address}'"):
        connect(address)
    assert time.perf_counter() - start < 10
