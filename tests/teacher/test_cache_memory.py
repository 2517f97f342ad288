"""The distiller's memory is bounded by `memory_entries`: teacher targets and
derived targets (marginals) of at most that many docs each, whatever the corpus;
a dropped doc's targets are read back from the disk cache, or without one
computed by the teacher again."""

import pytest
import spacy
from spacy.training import Example

from tests.small_teacher import TOK2VEC, gold_examples

TEXTS = [f"{a} {b} {c}" for a in ("They", "I") for b in ("like", "eat") for c in ("eggs", "ham")]
pytestmark = pytest.mark.filterwarnings("ignore:.*without sentence boundaries")


def student(teacher_path, **distiller):
    spacy.util.fix_random_seed(1)
    nlp = spacy.blank("en")
    students = {"tagger": {"method": "structural"}, "parser": {"method": "structural"}}
    config = {"teacher": str(teacher_path), "students": students, **distiller}
    nlp.add_pipe("skd_distiller", name="distiller", config=config)
    nlp.add_pipe("skd_tagger", name="tagger", config={"model": {"tok2vec": TOK2VEC}})
    nlp.add_pipe("skd_parser", name="parser", config={"model": {"tok2vec": TOK2VEC}})
    return nlp


def count_annotated(distiller):
    """A list that grows by the number of docs of every teacher call."""
    calls = []
    annotate = distiller.teacher.annotate

    def counted(docs):
        calls.append(len(docs))
        return annotate(docs)

    distiller.teacher.annotate = counted
    return calls


@pytest.mark.parametrize("on_disk", [True, False])
def test_the_distillers_memory_holds_at_most_memory_entries(teacher_path, tmp_path, on_disk):
    cache_dir = str(tmp_path / "cache") if on_disk else None
    nlp = student(teacher_path, memory_entries=3, cache_dir=cache_dir)
    optimizer = nlp.initialize(lambda: gold_examples(nlp))
    distiller = nlp.get_pipe("distiller")
    annotated = count_annotated(distiller)
    for _ in range(2):
        for first in range(0, len(TEXTS), 2):
            batch = [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in TEXTS[first : first + 2]]
            nlp.update(batch, sgd=optimizer)
            assert len(distiller.cache) <= 3 and len(distiller._memos) <= 3
    # the second epoch reads every doc back from disk, or has the teacher redo it
    assert sum(annotated) == len(TEXTS) * (1 if on_disk else 2)


def test_targets_read_back_from_disk_equal_the_first(teacher_path, tmp_path):
    nlp = student(teacher_path, memory_entries=1, cache_dir=str(tmp_path / "cache"))
    nlp.initialize(lambda: gold_examples(nlp))
    distiller = nlp.get_pipe("distiller")
    docs = [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in TEXTS[:2]]
    first_keys, first = distiller._entries(docs)
    first = [{name: array.copy() for name, array in entry.items()} for entry in first]
    assert len(distiller.cache) == 1
    keys, again = distiller._entries(list(reversed(docs)))
    assert keys == list(reversed(first_keys))
    for entry, original in zip(again, reversed(first)):
        assert entry.keys() == original.keys()
        for name in entry:
            assert (entry[name] == original[name]).all()
