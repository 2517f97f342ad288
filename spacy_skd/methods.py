"""Every knowledge-distillation method of spacy-skd in one place: its name, the
(teacher output, student output) pairs it serves, the methods `distill` gives
spaCy's own components and falls back on, and the loss it computes
(`summed_kd_loss`). Torch only: the components and the distiller import it.

Methods:
- "token": per-token label distributions (Hinton et al. 2015): the softmax of
  the teacher's logits or its CRF's unary marginals; on arcs, each word's head
  distribution (the "local" form);
- "structural": the exact cross-entropy over whole structures (Wang et al. 2021);
- "local": the KL of every local sub-structure's distribution (Lin et al. 2022);
- "local_scores": the squared error of the local scores, relative to a student
  that knows nothing; "local_scores_spread": divided by the teacher's spread of
  scores instead; "local_scores_raw": Lin et al.'s raw squared error;
- "hard": the student's negative log-likelihood of the teacher's best structure.

Outputs (what a component's scores are, see `METHODS_BY_OUTPUTS`):
"sequence-crf" and "sequence-softmax" (taggers; the skd_ner exports its
decoding constraints, so it teaches as a CRF), "tree-crf" and "tree-local"
(skd_parsers by training objective), "entities" (spaCy's `ner` as a teacher:
entities without scores), and spaCy's own components as students:
"stock-softmax" (tagger, morphologizer, senter), "stock-parser", "stock-ner".
"""

from __future__ import annotations

from typing import Dict, Tuple

from torch import Tensor

from .losses import local_kd_loss, local_scores_loss, structural_kd_loss, token_kd_loss
from .structs import DependencyCRF, LinearChainCRF, StructuredDistribution
from .structs.arcs import ArcFactored

METHODS = (
    "token",
    "structural",
    "local",
    "local_scores",
    "local_scores_spread",
    "local_scores_raw",
    "hard",
)
# The local_scores methods and the `scale` of `local_scores_loss` each uses.
LOCAL_SCORES = {
    "local_scores": "relative",
    "local_scores_spread": "spread",
    "local_scores_raw": "raw",
}
# What spaCy's tagger, morphologizer and senter learn by (pipeline/stock.py).
STOCK_TOKEN_METHODS = ("token", "hard")

SEQUENCE_OUTPUTS = ("sequence-crf", "sequence-softmax")
TREE_OUTPUTS = ("tree-crf", "tree-local")
METHODS_BY_OUTPUTS: Dict[Tuple[str, str], Tuple[str, ...]] = {
    ("sequence-crf", "sequence-crf"): METHODS,
    ("sequence-crf", "sequence-softmax"): ("token", "structural", "hard"),
    ("sequence-softmax", "sequence-crf"): ("token", "structural", "local", "hard"),
    ("sequence-softmax", "sequence-softmax"): ("token", "structural", "local", "hard"),
    **{(teacher, student): METHODS for teacher in TREE_OUTPUTS for student in TREE_OUTPUTS},
    **{(teacher, "stock-softmax"): STOCK_TOKEN_METHODS for teacher in SEQUENCE_OUTPUTS},
    **{(teacher, "stock-parser"): ("hard",) for teacher in TREE_OUTPUTS},
    ("sequence-crf", "stock-ner"): ("hard",),
    ("entities", "stock-ner"): ("hard",),
    # An entity teacher without scores teaches a BIO/BILUO tagger its best tag
    # sequence (see `EntityTargets`).
    **{("entities", student): ("hard",) for student in SEQUENCE_OUTPUTS},
}

# The method `distill` gives spaCy's own components, by factory.
STOCK_DEFAULT_METHODS = {
    "tagger": "token",
    "morphologizer": "token",
    "senter": "token",
    "parser": "hard",
    "ner": "hard",
}
# Where a pair cannot serve the chosen method (e.g. `local` from a CRF teacher
# into a softmax student, anything but `hard` from an entity teacher), `distill`
# uses the first of these that it can serve.
FALLBACK = ("structural", "token", "hard")


def methods_for(teacher_output: str, student_output: str) -> Tuple[str, ...]:
    """The methods that distil a teacher's `teacher_output` into a student's
    `student_output` (none for a pair that cannot be distilled)."""
    return METHODS_BY_OUTPUTS.get((teacher_output, student_output), ())


def describe_pairs() -> str:
    """Every (teacher output -> student output) pair and its methods, in one line."""
    return "; ".join(
        f"{teacher} -> {student}: {', '.join(methods)}"
        for (teacher, student), methods in METHODS_BY_OUTPUTS.items()
    )


def summed_kd_loss(
    student: StructuredDistribution,
    teacher: StructuredDistribution,
    method: str,
    temperature: float,
) -> Tensor:
    """Scalar: the KD loss of `method` summed over the student's tokens (words for
    trees; the losses return a per-token mean)."""
    n_tokens = student.lengths.sum()
    if method == "token" and isinstance(student, ArcFactored):
        method = "local"
    if method == "token":
        return _token_loss(student, teacher, temperature) * n_tokens
    if method == "structural":
        return structural_kd_loss(student, teacher, temperature) * n_tokens
    if method == "local":
        return local_kd_loss(student, teacher, temperature) * n_tokens
    if method in LOCAL_SCORES:
        scale = LOCAL_SCORES[method]
        return local_scores_loss(student, teacher, temperature, scale=scale) * n_tokens
    if method == "hard":
        return -student.log_prob(teacher.argmax.clamp(min=0)).sum()
    raise ValueError(f"unknown KD method {method!r}; known: {', '.join(METHODS)}")


def _token_loss(
    student: StructuredDistribution, teacher: StructuredDistribution, temperature: float
) -> Tensor:
    """Token KD between label sequences. A CRF teacher's per-token distribution is
    its unary marginals at temperature T, passed as logits T * log(marginal) so
    the loss's / T undoes it; a CRF student's is the softmax of its emissions."""
    if isinstance(teacher, LinearChainCRF):
        marginals = teacher.tempered(temperature).marginals
        teacher_scores = marginals.clamp(min=1e-30).log() * temperature
    else:
        teacher_scores = teacher.logits
    student_scores = student.emissions if isinstance(student, LinearChainCRF) else student.logits
    return token_kd_loss(student_scores, teacher_scores, student.lengths, temperature)


def kept_teacher_values(
    method: str, student: StructuredDistribution, teacher: StructuredDistribution
) -> Tuple[str, ...]:
    """The properties of `teacher` that `summed_kd_loss` reads for `method` and
    that cost a forward-backward pass, so are worth keeping per doc across epochs
    (see `pipeline.memo.recall_derived`)."""
    if isinstance(teacher, DependencyCRF):
        # the other methods read no marginals ("token" is the local form)
        return ("marginals",) if method == "structural" else ()
    if not isinstance(teacher, LinearChainCRF):
        return ()
    if method == "structural":
        # a softmax student reads no transition counts
        with_counts = isinstance(student, LinearChainCRF)
        return ("marginals", "transition_counts") if with_counts else ("marginals",)
    return ("marginals",) if method == "token" else ()
