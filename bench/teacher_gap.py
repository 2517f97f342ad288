"""Where students' errors sit against their teacher's. On a gold corpus's own tokens
(each pipeline setting its own sentences), every token's UPOS and (head, label) is
right or wrong for the teacher and for each student. The four cells split the
student's gap to the teacher: tokens the teacher gets right and the student does
not (what imitation has not taken), tokens only the student gets right, and the
teacher's errors the student repeats (the same wrong answer) or makes otherwise.

LAS here counts every gold token not labelled `punct` as right when its head and
label (case-blind) are the gold ones; spaCy's scorer, which also leaves out tokens
predicted `punct`, gives figures a few hundredths apart.

    python bench/teacher_gap.py project/corpus/ewt-test.spacy TEACHER STUDENT [STUDENT ...]
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Callable, Dict, List, Optional

import spacy
import srsly
import typer
from spacy.tokens import Doc, DocBin, Token

from spacy_skd.evaluation.agreement import token_docs

# attribute -> (what a token's answer is, whether the gold token is scored)
ANSWERS: Dict[str, Callable[[Token], object]] = {
    "upos": lambda token: token.pos_,
    "las": lambda token: (token.head.i, token.dep_.lower()),
}
SCORED: Dict[str, Callable[[Token], bool]] = {
    "upos": lambda token: True,
    "las": lambda token: token.dep_.lower() != "punct",
}
CELLS = ("both right", "teacher only", "student only", "same error", "different errors")


def cell(gold: object, teacher: object, student: object) -> str:
    """Which of CELLS one token falls in."""
    if teacher == gold:
        return "both right" if student == gold else "teacher only"
    if student == gold:
        return "student only"
    return "same error" if student == teacher else "different errors"


def gap_counts(gold: List[Doc], teacher: List[Doc], student: List[Doc]) -> Dict[str, Counter]:
    """attribute -> Counter over CELLS (plus "tokens") of the scored gold tokens."""
    counts = {name: Counter() for name in ANSWERS}
    if not len(gold) == len(teacher) == len(student):
        raise ValueError("the corpus and the pipelines gave different numbers of docs")
    for gold_doc, teacher_doc, student_doc in zip(gold, teacher, student):
        for name, answer in ANSWERS.items():
            for g, t, s in zip(gold_doc, teacher_doc, student_doc):
                if SCORED[name](g):
                    counts[name][cell(answer(g), answer(t), answer(s))] += 1
                    counts[name]["tokens"] += 1
    return counts


def summary(counts: Counter) -> Dict[str, float]:
    """The cells as % of scored tokens, the two accuracies, and the student's
    accuracy on the tokens the teacher gets right."""
    total = counts["tokens"]
    shares = {name: 100 * counts[name] / total for name in CELLS}
    teacher_right = counts["both right"] + counts["teacher only"]
    return {
        "tokens": total,
        "teacher": shares["both right"] + shares["teacher only"],
        "student": shares["both right"] + shares["student only"],
        **shares,
        "student where teacher right": 100 * counts["both right"] / max(teacher_right, 1),
    }


def annotated(path: Path, corpus: Path) -> List[Doc]:
    """The words of `corpus`'s docs run through the pipeline at `path`."""
    nlp = spacy.load(path)
    return list(nlp.pipe(token_docs(corpus, nlp), batch_size=64))


def main(
    corpus: Path = typer.Argument(..., help="A .spacy corpus with gold UPOS and trees"),
    teacher: Path = typer.Argument(..., help="The teacher pipeline"),
    students: List[Path] = typer.Argument(..., help="Student pipelines"),
    output: Optional[Path] = typer.Option(None, help="JSON file of the figures"),
) -> None:
    gold = list(DocBin().from_disk(corpus).get_docs(spacy.blank("en").vocab))
    teacher_docs = annotated(teacher, corpus)
    results = {}
    header = " | ".join(CELLS)
    print(f"| student | score | teacher | student | {header} | student where teacher right |")
    print("|---|---|---|---|" + "---|" * (len(CELLS) + 1))
    for path in students:
        name = path.parent.name if path.name.startswith("model-") else path.name
        counts = gap_counts(gold, teacher_docs, annotated(path, corpus))
        results[name] = {attr: summary(c) for attr, c in counts.items()}
        for attr, row in results[name].items():
            cells = " | ".join(f"{row[key]:.2f}" for key in CELLS)
            print(
                f"| {name} | {attr.upper()} | {row['teacher']:.2f} | {row['student']:.2f} | "
                f"{cells} | {row['student where teacher right']:.2f} |"
            )
    if output is not None:
        srsly.write_json(output, {"corpus": str(corpus), "teacher": str(teacher), **results})


if __name__ == "__main__":
    typer.run(main)
