"""`spacy-skd annotate` fills the cache the distiller reads: afterwards training
runs no teacher; the corpus is streamed with a bounded read-ahead; progress counts
every doc; a rerun resumes; bad inputs fail naming the file (and the line, keeping
what was written); Ray stays unimported."""

import json
import subprocess
import sys

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from typer.testing import CliRunner

from spacy_skd.cli import app
from spacy_skd.teacher import TargetCache, Teacher, load_teacher
from spacy_skd.teacher import annotate as annotate_module
from spacy_skd.teacher.annotate import (
    RawDoc,
    annotate_corpus,
    doc_spec,
    estimate_docs,
    read_corpus,
    teacher_doc,
    teacher_settings,
)
from tests.small_teacher import TOK2VEC, gold_examples

pytestmark = pytest.mark.filterwarnings("ignore:.*without sentence boundaries")
TEXTS = ["They like eggs", "I eat green ham . Eat eggs", "they eat blue eggs"]


def corpora(tmp_path):
    nlp = spacy.blank("en")
    docbin = DocBin(docs=[eg.reference for eg in gold_examples(nlp)])
    docbin.to_disk(tmp_path / "train.spacy")
    (tmp_path / "raw.txt").write_text("\n".join(TEXTS) + "\n\n")
    (tmp_path / "raw.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in TEXTS))
    return tmp_path / "train.spacy", tmp_path / "raw.txt", tmp_path / "raw.jsonl"


def student(teacher_path, cache_dir):
    nlp = spacy.blank("en")
    students = {"tagger": {"method": "structural"}, "parser": {"method": "structural"}}
    config = {"teacher": str(teacher_path), "students": students, "cache_dir": str(cache_dir)}
    nlp.add_pipe("skd_distiller", name="distiller", config=config)
    nlp.add_pipe("skd_tagger", name="tagger", config={"model": {"tok2vec": TOK2VEC}})
    nlp.add_pipe("skd_parser", name="parser", config={"model": {"tok2vec": TOK2VEC}})
    return nlp


@pytest.mark.parametrize("n_process", [1, 2])
def test_annotated_corpora_train_without_running_the_teacher(
    teacher_path, tmp_path, monkeypatch, n_process
):
    spacy_path, txt_path, jsonl_path = corpora(tmp_path)
    cache = tmp_path / "cache"
    result = CliRunner().invoke(
        app, ["annotate", str(teacher_path), str(spacy_path), str(cache), "-n", str(n_process)]
    )
    assert result.exit_code == 0, result.output
    assert "Annotated 3 docs (10 words in" in result.output
    assert "; 0 were already in" in result.output
    assert annotate_corpus(str(teacher_path), txt_path, cache, n_process=n_process) == (3, 0)
    assert annotate_corpus(str(teacher_path), jsonl_path, cache) == (0, 3)

    nlp = student(teacher_path, cache)
    gold = gold_examples(nlp)
    optimizer = nlp.initialize(lambda: gold)
    monkeypatch.setattr(Teacher, "annotate", lambda *a: pytest.fail("the teacher ran"))
    raw = [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in TEXTS]
    losses = nlp.update(gold + raw, sgd=optimizer)
    assert losses["tagger"] > 0 and losses["parser"] > 0


def test_an_interrupted_run_resumes(teacher_path, tmp_path, monkeypatch):
    spacy_path, txt_path, _ = corpora(tmp_path)
    cache = tmp_path / "cache"
    calls = []
    annotate = Teacher.annotate

    def dies_after_one_batch(self, docs):
        if calls:
            raise KeyboardInterrupt
        calls.append(len(docs))
        return annotate(self, docs)

    monkeypatch.setattr(Teacher, "annotate", dies_after_one_batch)
    with pytest.raises(KeyboardInterrupt):
        annotate_corpus(str(teacher_path), txt_path, cache, batch_size=2)
    monkeypatch.setattr(Teacher, "annotate", annotate)
    assert annotate_corpus(str(teacher_path), txt_path, cache, batch_size=2) == (1, 2)


def test_bad_inputs_fail_naming_the_file(teacher_path, tmp_path):
    bad = tmp_path / "corpus.conllu"
    bad.write_text("1\tword\n")
    with pytest.raises(ValueError, match="corpus.conllu: expected a .spacy"):
        annotate_corpus(str(teacher_path), bad, tmp_path / "cache")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="holds no docs"):
        annotate_corpus(str(teacher_path), empty, tmp_path / "cache")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "fine"}\n[1, 2]\n')
    with pytest.raises(ValueError, match="broken.jsonl:2: not a JSON object"):
        annotate_corpus(str(teacher_path), broken, tmp_path / "cache")
    result = CliRunner().invoke(
        app, ["annotate", str(tmp_path / "nowhere"), str(empty), str(tmp_path)]
    )
    assert result.exit_code == 1 and "not a spaCy pipeline" in result.output
    _, txt_path, _ = corpora(tmp_path)
    args = ["annotate", str(teacher_path), str(txt_path), str(tmp_path / "c")]
    result = CliRunner().invoke(app, [*args, "--max-line-chars", "20"])
    assert result.exit_code == 1 and "raw.txt:2: longer than 20 characters" in result.output


@pytest.mark.parametrize("n_process", [1, 2])
def test_a_bad_line_stops_the_run_keeping_what_was_written(teacher_path, tmp_path, n_process):
    corpus, cache_dir = tmp_path / "corpus.txt", tmp_path / "cache"
    fixed = [*TEXTS, "green eggs", "they like ham"]
    corpus.write_bytes(b"\n".join([t.encode() for t in TEXTS] + [b"green \xff eggs", b"x"]))
    with pytest.raises(ValueError, match=r"corpus.txt:4: not UTF-8 \(byte 0xff at column 7\)"):
        annotate_corpus(str(teacher_path), corpus, cache_dir, batch_size=1, n_process=n_process)
    teacher = Teacher(load_teacher(str(teacher_path)), **teacher_settings())
    cache = TargetCache(teacher.fingerprint, cache_dir)
    keys = [teacher.key(teacher_doc(teacher, doc_spec(teacher.nlp, RawDoc(t)))) for t in fixed]
    assert all(cache.get(key) is not None for key in keys[:3])
    assert not any(cache.has(key) for key in keys[3:])
    corpus.write_text("\n".join(fixed) + "\n")
    assert annotate_corpus(str(teacher_path), corpus, cache_dir, batch_size=1) == (2, 3)
    assert all(cache.get(key) is not None for key in keys)


@pytest.mark.parametrize("n_process,batch_size", [(1, 2), (2, 1)])
def test_the_corpus_is_streamed_with_a_bounded_read_ahead(
    teacher_path, tmp_path, monkeypatch, n_process, batch_size
):
    corpus = tmp_path / "many.txt"
    corpus.write_text("\n".join(f"{TEXTS[i % 3]} {i}" for i in range(24)))
    read, ahead, calls = [0], [], []

    def counted(path, max_line_chars):
        for raw in read_corpus(path, max_line_chars):
            read[0] += 1
            yield raw

    def progress(docs, words, found):
        calls.append((docs, words, found))
        ahead.append(read[0] - sum(done + cached for done, _, cached in calls))

    monkeypatch.setattr(annotate_module, "read_corpus", counted)
    made, found = annotate_corpus(
        str(teacher_path),
        corpus,
        tmp_path / "cache",
        n_process=n_process,
        batch_size=batch_size,
        progress=progress,
    )
    assert (made, found) == (24, 0) and read[0] == 24
    # a batch being filled, and at most two per worker in flight
    assert max(ahead) <= batch_size * (2 * n_process + 1)
    assert sum(docs for docs, _, _ in calls) == 24
    nlp = spacy.blank("en")
    words = sum(len(nlp.make_doc(line)) for line in corpus.read_text().splitlines())
    assert sum(words for _, words, _ in calls) == words


def test_progress_counts_the_docs_found_in_the_cache(teacher_path, tmp_path):
    _, txt_path, _ = corpora(tmp_path)
    annotate_corpus(str(teacher_path), txt_path, tmp_path / "cache")
    calls = []
    found = annotate_corpus(
        str(teacher_path), txt_path, tmp_path / "cache", progress=lambda *a: calls.append(a)
    )
    assert found == (0, 3) and calls == [(0, 0, 3)]


def test_the_estimate_counts_lines_or_docs(tmp_path):
    spacy_path, txt_path, jsonl_path = corpora(tmp_path)
    assert estimate_docs(spacy_path) == 3
    assert estimate_docs(jsonl_path) == 3  # no newline at its end
    assert estimate_docs(txt_path) == 4  # its blank last line counts
    assert len(list(read_corpus(txt_path))) == 3


def test_gold_sentences_survive_the_stream(tmp_path):
    spacy_path, _, _ = corpora(tmp_path)
    raws = list(read_corpus(spacy_path))
    references = list(DocBin().from_disk(spacy_path).get_docs(spacy.blank("en").vocab))
    assert [raw.words for raw in raws] == [[t.text for t in doc] for doc in references]
    assert [raw.sent_starts for raw in raws] == [
        [t.is_sent_start for t in doc] for doc in references
    ]


def test_annotate_without_ray_never_imports_it(teacher_path, tmp_path):
    _, txt_path, _ = corpora(tmp_path)
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from spacy_skd.cli import app\n"
        f"result = CliRunner().invoke(app, ['annotate', {str(teacher_path)!r}, "
        f"{str(txt_path)!r}, {str(tmp_path / 'cache')!r}, '-q'])\n"
        "assert result.exit_code == 0, result.output\n"
        "print('ray' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_ray_options_exclude_local_workers(teacher_path, tmp_path):
    _, txt_path, _ = corpora(tmp_path)
    args = ["annotate", str(teacher_path), str(txt_path), str(tmp_path / "c"), "--ray", "auto"]
    result = CliRunner().invoke(app, args + ["-n", "2"])
    assert result.exit_code == 1 and "leave out --n-process" in result.output


def test_the_teacher_leaves_the_random_generators_as_they_were(trf_teacher):
    """A student draws the same dropout whether its targets come from the cache
    or from the teacher run in its step (a transformer teacher draws from
    Python's generator)."""
    from spacy_skd.random_state import random_states

    teacher = Teacher(load_teacher(str(trf_teacher)), [-1])
    before = random_states()
    [entry] = teacher.annotate([teacher.nlp.make_doc("They like green ham")])
    after = random_states()
    assert "hidden.-1" in entry
    assert before["python"] == after["python"]
    assert (
        before["numpy"][2:] == after["numpy"][2:]
        and (before["numpy"][1] == after["numpy"][1]).all()
    )
    assert (before["torch"] == after["torch"]).all()
