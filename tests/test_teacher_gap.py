"""bench/teacher_gap.py: each token falls in the cell its three answers call for,
punctuation is left out of LAS, and the shares add up to both accuracies."""

import importlib.util
from pathlib import Path

import pytest
import spacy
from spacy.tokens import Doc

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("teacher_gap", ROOT / "bench" / "teacher_gap.py")
teacher_gap = importlib.util.module_from_spec(spec)
spec.loader.exec_module(teacher_gap)

WORDS = ["Dogs", "bark", "loudly", "."]


def parsed(vocab, pos, heads, deps):
    return Doc(vocab, words=WORDS, pos=pos, heads=heads, deps=deps)


@pytest.mark.parametrize(
    "gold,teacher,student,expected",
    [
        ("NOUN", "NOUN", "NOUN", "both right"),
        ("NOUN", "NOUN", "VERB", "teacher only"),
        ("NOUN", "VERB", "NOUN", "student only"),
        ("NOUN", "VERB", "VERB", "same error"),
        ("NOUN", "VERB", "ADJ", "different errors"),
    ],
)
def test_cell(gold, teacher, student, expected):
    assert teacher_gap.cell(gold, teacher, student) == expected


def test_gap_counts_and_summary():
    vocab = spacy.blank("en").vocab
    gold = parsed(
        vocab, ["NOUN", "VERB", "ADV", "PUNCT"], [1, 1, 1, 1], ["nsubj", "ROOT", "advmod", "punct"]
    )
    # the teacher misses "loudly"'s UPOS and the punctuation's head (not scored for LAS)
    teacher = parsed(
        vocab, ["NOUN", "VERB", "ADJ", "PUNCT"], [1, 1, 1, 2], ["nsubj", "ROOT", "advmod", "punct"]
    )
    # the student repeats the UPOS error, misses "Dogs"'s label and gets UPOS of "." wrong
    student = parsed(
        vocab, ["NOUN", "VERB", "ADJ", "SYM"], [1, 1, 1, 1], ["obj", "ROOT", "ADVMOD", "punct"]
    )
    counts = teacher_gap.gap_counts([gold], [teacher], [student])
    assert counts["upos"] == {"tokens": 4, "both right": 2, "same error": 1, "teacher only": 1}
    # "loudly"'s label is right whatever its case
    assert counts["las"] == {"tokens": 3, "both right": 2, "teacher only": 1}
    upos = teacher_gap.summary(counts["upos"])
    assert upos["teacher"] == pytest.approx(75.0) and upos["student"] == pytest.approx(50.0)
    assert upos["student where teacher right"] == pytest.approx(100 * 2 / 3)
    assert sum(upos[name] for name in teacher_gap.CELLS) == pytest.approx(100.0)


def test_gap_counts_refuses_a_missing_doc():
    vocab = spacy.blank("en").vocab
    doc = parsed(
        vocab, ["NOUN", "VERB", "ADV", "PUNCT"], [1, 1, 1, 1], ["nsubj", "ROOT", "advmod", "punct"]
    )
    with pytest.raises(ValueError, match="numbers of docs"):
        teacher_gap.gap_counts([doc, doc], [doc], [doc, doc])
