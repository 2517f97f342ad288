"""An entity teacher without per-token scores (spaCy's transition-based ner):
its entities become the best tag sequence of a BIO/BILUO skd_ner student, or
silver entities for a stock ner student (the incompatible-factorisation case)."""

import pytest
import spacy
from spacy.training import Example

from spacy_skd.targets import EntityTargets
from tests.small_teacher import TOK2VEC

ENTS = [
    ("Anna lives in Paris", [(0, 4, "PER"), (14, 19, "LOC")]),
    ("Bob Smith works at Acme Corp", [(0, 9, "PER"), (19, 28, "ORG")]),
    ("nothing to see here", []),
]
TEXTS = ["Anna works at Acme Corp", "Bob Smith lives in Paris", "nothing here"]


def gold(nlp):
    return [Example.from_dict(nlp.make_doc(t), {"entities": e}) for t, e in ENTS]


@pytest.fixture(scope="module")
def ner_teacher(tmp_path_factory):
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("ner")
    exs = gold(nlp)
    optimizer = nlp.initialize(lambda: exs)
    for _ in range(40):
        nlp.update(exs, sgd=optimizer)
    path = tmp_path_factory.mktemp("ner") / "teacher"
    nlp.to_disk(path)
    return path


def ents(doc):
    return [(e.text, e.label_) for e in doc.ents]


@pytest.mark.parametrize("student", ["skd_ner_BILUO", "skd_ner_BIO", "ner"])
def test_entity_teacher_teaches_tag_and_transition_students(ner_teacher, student):
    spacy.util.fix_random_seed(1)
    teacher = spacy.load(ner_teacher)
    assert any(ents(teacher(t)) for t in TEXTS)
    nlp = spacy.blank("en")
    config = {
        "teacher": str(ner_teacher),
        "students": {"ner": {"method": "hard", "kd_weight": 1.0}},
    }
    nlp.add_pipe("skd_distiller", name="distiller", config=config)
    if student == "ner":
        nlp.add_pipe("ner")
    else:
        scheme = student.split("_")[-1]
        nlp.add_pipe(
            "skd_ner", name="ner", config={"scheme": scheme, "model": {"tok2vec": TOK2VEC}}
        )
    optimizer = nlp.initialize(lambda: gold(nlp))
    for _ in range(40):
        nlp.update([Example(nlp.make_doc(t), nlp.make_doc(t)) for t in TEXTS], sgd=optimizer)
    for text in TEXTS:
        assert ents(nlp(text)) == ents(teacher(text))


def test_entity_teachers_only_teach_entity_students(ner_teacher):
    nlp = spacy.blank("en")
    config = {
        "teacher": str(ner_teacher),
        "students": {"tagger": {"teacher": "ner", "method": "hard"}},
    }
    nlp.add_pipe("skd_distiller", config=config)
    nlp.add_pipe("skd_tagger", name="tagger")
    exs = [Example.from_dict(nlp.make_doc("Anna lives"), {"tags": ["N", "V"]})]
    with pytest.raises(ValueError, match="only an skd_ner or ner student can learn"):
        nlp.initialize(lambda: exs)


def test_entities_become_one_hot_tags_in_either_scheme():
    targets = EntityTargets([(0, 2, "PER"), (3, 4, "LOC")])
    tags = ("O", "B-LOC", "I-LOC", "L-LOC", "U-LOC", "B-PER", "I-PER", "L-PER", "U-PER")
    scores = targets.as_tag_targets(5, tags, "BILUO").scores
    assert [tags[i] for i in scores.argmax(1)] == ["B-PER", "L-PER", "O", "U-LOC", "O"]
    bio = ("O", "B-LOC", "I-LOC", "B-PER", "I-PER")
    scores = targets.as_tag_targets(5, bio, "BIO").scores
    assert [bio[i] for i in scores.argmax(1)] == ["B-PER", "I-PER", "O", "B-LOC", "O"]
    with pytest.raises(ValueError, match=r"entity labels \['PER'\] are not among"):
        targets.as_tag_targets(5, ("O", "B-LOC", "I-LOC"), "BIO")
