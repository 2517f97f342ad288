"""A trained skd_* component serves as a teacher: `teacher_targets` exports its
scores (see docs/design.md) and a fresh student learns its predictions from
them alone, labels matched by name whatever their order."""

import numpy
import pytest
import spacy
from spacy.training import Example

from spacy_skd.targets import SequenceTargets, in_label_order

TAGS = [
    ("I like green eggs", ["N", "V", "J", "N"]),
    ("Eat blue ham", ["V", "J", "N"]),
    ("They eat ham", ["N", "V", "N"]),
]
TREES = [
    ("I like green eggs", [1, 1, 3, 1], ["nsubj", "ROOT", "amod", "dobj"]),
    ("Eat blue ham", [0, 2, 0], ["ROOT", "amod", "dobj"]),
    ("They eat ham", [1, 1, 1], ["nsubj", "ROOT", "dobj"]),
]
ENTS = [
    ("Anna lives in Paris", [(0, 4, "PER"), (14, 19, "LOC")]),
    ("Bob Smith works at Acme Corp", [(0, 9, "PER"), (19, 28, "ORG")]),
    ("nothing to see here", []),
]
UNLABELLED = ["They like eggs", "I eat green ham", "Eat eggs", "Anna works in Paris"]
TOK2VEC = {"width": 32, "depth": 2, "embed_size": 500}
pytestmark = pytest.mark.filterwarnings("ignore:.*without sentence boundaries")


def pipeline(factory, **config):
    nlp = spacy.blank("en")
    nlp.add_pipe(factory, name="student", config=config)
    return nlp


def fit(nlp, exs, steps=60, labels=None):
    labels = {} if labels is None else {"components": {"student": {"labels": labels}}}
    optimizer = nlp.initialize(lambda: exs, **labels) if labels else nlp.initialize(lambda: exs)
    for _ in range(steps):
        nlp.update(exs, sgd=optimizer)


def distil(teacher, student, gold, steps=60, method="structural", labels=None):
    """Train `student` on the teacher's targets for UNLABELLED alone (no gold)."""
    if labels is None:
        student.initialize(lambda: gold)
    else:
        student.get_pipe("student").initialize(lambda: gold, labels=labels)
    optimizer = student.create_optimizer()
    exporter = teacher.get_pipe("student")
    for _ in range(steps):
        batch = []
        for text in UNLABELLED:
            doc = student.make_doc(text)
            targets = exporter.teacher_targets([doc], method=method, weight=1.0)[0]
            doc._.skd_targets = {"student": targets}
            batch.append(Example(doc, student.make_doc(text)))
        student.update(batch, sgd=optimizer)


@pytest.mark.parametrize("teacher_layer,student_layer", [("crf", "softmax"), ("softmax", "crf")])
def test_a_trained_tagger_teaches_a_student_with_labels_in_another_order(
    teacher_layer, student_layer
):
    teacher = pipeline("skd_tagger", model={"output_layer": teacher_layer})
    gold = [Example.from_dict(teacher.make_doc(t), {"tags": tags}) for t, tags in TAGS]
    fit(teacher, gold)
    targets = teacher.get_pipe("student").teacher_targets([teacher.make_doc(t) for t in UNLABELLED])
    assert targets[0].labels == ("J", "N", "V")
    assert targets[0].scores.shape == (3, 3) and targets[0].is_crf == (teacher_layer == "crf")

    student = pipeline("skd_tagger", model={"output_layer": student_layer})
    distil(teacher, student, gold, labels=["V", "N", "J"])
    assert student.get_pipe("student").labels == ("V", "N", "J")
    for text in UNLABELLED:
        assert [t.tag_ for t in student(text)] == [t.tag_ for t in teacher(text)]


def test_a_trained_parser_teaches_a_student():
    teacher = pipeline("skd_parser")
    gold = [Example.from_dict(teacher.make_doc(t), {"heads": h, "deps": d}) for t, h, d in TREES]
    fit(teacher, gold, steps=40)
    [targets] = teacher.get_pipe("student").teacher_targets([teacher.make_doc("They like eggs")])
    assert targets.spans == [(0, 3)]
    assert targets.arcs[0].shape == (4, 4) and targets.labels[0].shape == (3, 4)
    assert targets.label_names == ("ROOT", "amod", "dobj", "nsubj")

    student = pipeline("skd_parser", objective="local")
    distil(teacher, student, gold, steps=40, labels=["nsubj", "dobj", "ROOT", "amod"])
    for text in UNLABELLED:
        expected = [(t.head.i, t.dep_) for t in teacher(text)]
        assert [(t.head.i, t.dep_) for t in student(text)] == expected


def test_a_trained_ner_teaches_through_its_decoding_constraints():
    teacher = pipeline("skd_ner", model={"output_layer": "softmax", "tok2vec": TOK2VEC})
    gold = [Example.from_dict(teacher.make_doc(t), {"entities": e}) for t, e in ENTS]
    fit(teacher, gold)
    [targets] = teacher.get_pipe("student").teacher_targets([teacher.make_doc("Anna works")])
    # A softmax NER decodes with the scheme's constraints, so it exports them.
    assert targets.is_crf and numpy.isneginf(targets.start).any()

    student = pipeline("skd_ner", model={"output_layer": "crf", "tok2vec": TOK2VEC})
    distil(teacher, student, gold)
    for text in UNLABELLED:
        expected = [(e.text, e.label_) for e in teacher(text).ents]
        assert [(e.text, e.label_) for e in student(text).ents] == expected
    assert any(teacher(text).ents for text in UNLABELLED)


def test_labels_only_the_student_has_are_impossible_and_the_teachers_extra_refused():
    transitions = numpy.arange(4, dtype="f").reshape(2, 2)
    targets = SequenceTargets(
        numpy.array([[1.0, 2.0]], dtype="f"),
        transitions=transitions,
        start=numpy.zeros(2, dtype="f"),
        end=numpy.zeros(2, dtype="f"),
        labels=("N", "X"),
    )
    mapped = in_label_order(targets, ["X", "V", "N"])
    assert mapped.labels == ("X", "V", "N")
    assert mapped.scores[0, 0] == 2.0 and mapped.scores[0, 2] == 1.0
    assert mapped.scores[0, 1] < -1e29 and (mapped.transitions[1] < -1e29).all()
    assert mapped.transitions[0, 2] == transitions[1, 0]
    expected = r"only the teacher has \['X'\]; the student's labels are \['N', 'V'\]"
    with pytest.raises(ValueError, match=expected):
        in_label_order(targets, ["N", "V"], "tagger")
    with pytest.raises(ValueError, match="2 label names for 3 score columns"):
        SequenceTargets(numpy.zeros((2, 3), dtype="f"), labels=("N", "X"))


def test_empty_docs_export_empty_targets():
    teacher = pipeline("skd_tagger", model={"output_layer": "crf"})
    fit(teacher, [Example.from_dict(teacher.make_doc(t), {"tags": g}) for t, g in TAGS], steps=1)
    targets = teacher.get_pipe("student").teacher_targets(
        [teacher.make_doc(""), teacher.make_doc("ham")]
    )
    assert targets[0].scores.shape == (0, 3) and targets[1].scores.shape == (1, 3)
