"""`spacy-skd annotate` fills the cache the distiller reads: afterwards training
runs no teacher; a rerun resumes; bad inputs fail naming the file."""

import json

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from typer.testing import CliRunner

from spacy_skd.cli import app
from spacy_skd.teacher import Teacher
from spacy_skd.teacher.annotate import annotate_corpus
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
    assert "Annotated 3 docs (0 were already" in result.output
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
