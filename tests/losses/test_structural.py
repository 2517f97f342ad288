"""Structural KD equals the exact cross-entropy between the full teacher and
student distributions, computed by enumerating every sequence / tree."""

import pytest
import torch

from spacy_skd.losses import structural_kd_loss
from spacy_skd.structs import (
    DependencyCRF,
    HeadSelection,
    LinearChainCRF,
    SemiMarkovCRF,
    TokenSoftmax,
)
from tests.structs.brute import (
    arc_score,
    chain_enumerations,
    chain_score,
    head_selection_enumerations,
    rand_scores,
    semimarkov_enumerations,
    tree_enumerations,
)

F64 = torch.float64
LENGTHS = [3, 1, 2]
SEEDS = [0, 1, 2]
TEMPERATURES = [1.0, 2.5]


def exact_loss(teacher_enums, student_log_prob, temperature):
    """T^2 * sum_b -sum_y P_t(y) log P_s(y) / n_tokens, by enumeration;
    `student_log_prob(b, structures)` gives the student's log P of each
    teacher structure."""
    total = 0.0
    for b, enum in enumerate(teacher_enums):
        total = total - (enum.probs * student_log_prob(b, enum.structs)).sum()
    return temperature**2 * total / sum(LENGTHS)


def chain_log_prob(emissions, transitions, lengths, start=None, end=None):
    enums = chain_enumerations(emissions, transitions, lengths, start, end)
    batch, _, n_labels = emissions.shape

    def log_prob(b, tags):
        n = tags.shape[1]
        trans = transitions if transitions is not None else emissions.new_zeros(n_labels, n_labels)
        st = start if start is not None else None
        en = end if end is not None else None
        return chain_score(emissions[b, :n], trans, tags, st, en) - enums[b].log_partition

    return log_prob


def sequence_models(kind, gen, n_labels, requires_grad):
    """Scores of one side: ("crf", emissions, transitions, start, end) or ("softmax", logits)."""
    batch, n_max = len(LENGTHS), max(LENGTHS)
    emissions = rand_scores(gen, batch, n_max, n_labels).requires_grad_(requires_grad)
    if kind == "softmax":
        return {"emissions": emissions}
    return {
        "emissions": emissions,
        "transitions": rand_scores(gen, n_labels, n_labels).requires_grad_(requires_grad),
        "start": rand_scores(gen, n_labels).requires_grad_(requires_grad),
        "end": rand_scores(gen, n_labels).requires_grad_(requires_grad),
    }


def build_sequence(kind, scores, lengths):
    if kind == "softmax":
        return TokenSoftmax(scores["emissions"], lengths)
    return LinearChainCRF(
        scores["emissions"], scores["transitions"], lengths, scores["start"], scores["end"]
    )


def sequence_log_prob(kind, scores, lengths, temperature):
    scaled = {name: value / temperature for name, value in scores.items()}
    return chain_log_prob(
        scaled["emissions"],
        scaled.get("transitions"),
        lengths,
        scaled.get("start"),
        scaled.get("end"),
    )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize(
    "teacher_kind,student_kind",
    [("crf", "crf"), ("crf", "softmax"), ("softmax", "crf"), ("softmax", "softmax")],
)
def test_sequence_pairs_equal_enumerated_cross_entropy(
    seed, temperature, teacher_kind, student_kind
):
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(LENGTHS)
    teacher_scores = sequence_models(teacher_kind, gen, 3, False)
    student_scores = sequence_models(student_kind, gen, 3, True)
    loss = structural_kd_loss(
        build_sequence(student_kind, student_scores, lengths),
        build_sequence(teacher_kind, teacher_scores, lengths),
        temperature,
    )
    scaled_teacher = {k: v / temperature for k, v in teacher_scores.items()}
    teacher_enums = chain_enumerations(
        scaled_teacher["emissions"],
        scaled_teacher.get("transitions"),
        lengths,
        scaled_teacher.get("start"),
        scaled_teacher.get("end"),
    )
    student_log_prob = sequence_log_prob(student_kind, student_scores, lengths, temperature)
    expected = exact_loss(teacher_enums, student_log_prob, temperature)
    torch.testing.assert_close(loss, expected, atol=1e-6, rtol=1e-6)
    # The same function of the student's scores: the gradients agree too.
    params = list(student_scores.values())
    got = torch.autograd.grad(loss, params)
    want = torch.autograd.grad(expected, params)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scheme", ["BIO", "BILUO"])
@pytest.mark.parametrize("student_kind", ["crf", "softmax"])
def test_span_teacher_to_tagger_equals_enumerated_cross_entropy(seed, scheme, student_kind):
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(LENGTHS)
    n_entities, max_width = 2, 2
    span_scores = rand_scores(gen, len(LENGTHS), max(LENGTHS), max_width, n_entities)
    outside = rand_scores(gen, len(LENGTHS), max(LENGTHS))
    n_tags = 1 + (2 if scheme == "BIO" else 4) * n_entities
    student_scores = sequence_models(student_kind, gen, n_tags, True)
    loss = structural_kd_loss(
        build_sequence(student_kind, student_scores, lengths),
        SemiMarkovCRF(span_scores, lengths, outside, scheme),
    )
    teacher_enums = semimarkov_enumerations(span_scores, lengths, outside, scheme)
    student_log_prob = sequence_log_prob(student_kind, student_scores, lengths, 1.0)
    expected = exact_loss(teacher_enums, student_log_prob, 1.0)
    torch.testing.assert_close(loss, expected, atol=1e-6, rtol=1e-6)


TREE_SPACES = {
    "nonproj-single": dict(projective=False, single_root=True),
    "nonproj-multi": dict(projective=False, single_root=False),
    "proj-single": dict(projective=True, single_root=True),
    "proj-multi": dict(projective=True, single_root=False),
    "head-selection": None,
}


def build_tree(space, arc_scores, lengths):
    config = TREE_SPACES[space]
    if config is None:
        return HeadSelection(arc_scores, lengths)
    return DependencyCRF(arc_scores, lengths, **config)


def tree_enums(space, arc_scores, lengths):
    config = TREE_SPACES[space]
    if config is None:
        return head_selection_enumerations(arc_scores, lengths)
    return tree_enumerations(arc_scores, lengths, **config)


@pytest.mark.parametrize("seed", SEEDS[:2])
@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize("teacher_space", list(TREE_SPACES))
@pytest.mark.parametrize("student_space", list(TREE_SPACES))
def test_tree_pairs_equal_enumerated_cross_entropy(seed, temperature, teacher_space, student_space):
    """Exact CE where the teacher's structures are all in the student's space;
    otherwise the student's log-probability is the arc-factored score minus
    its log Z, extended to the structures it excludes (the documented meaning)."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(LENGTHS)
    teacher_arcs = rand_scores(gen, len(LENGTHS), max(LENGTHS) + 1, max(LENGTHS) + 1)
    student_arcs = rand_scores(gen, len(LENGTHS), max(LENGTHS) + 1, max(LENGTHS) + 1)
    student_arcs.requires_grad_(True)
    loss = structural_kd_loss(
        build_tree(student_space, student_arcs, lengths),
        build_tree(teacher_space, teacher_arcs, lengths),
        temperature,
    )
    teacher_enums = tree_enums(teacher_space, teacher_arcs / temperature, lengths)
    student_enums = tree_enums(student_space, student_arcs / temperature, lengths)

    def student_log_prob(b, heads):
        return arc_score(student_arcs[b] / temperature, heads) - student_enums[b].log_partition

    expected = exact_loss(teacher_enums, student_log_prob, temperature)
    torch.testing.assert_close(loss, expected, atol=1e-6, rtol=1e-6)
    (got,) = torch.autograd.grad(loss, student_arcs)
    (want,) = torch.autograd.grad(expected, student_arcs)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-6)


def test_structural_kd_is_minimised_by_the_teacher_itself():
    """CE(P_t, P_s) >= H(P_t), with equality when the student equals the teacher."""
    gen = torch.Generator().manual_seed(3)
    lengths = torch.tensor(LENGTHS)
    scores = sequence_models("crf", gen, 3, False)
    teacher = build_sequence("crf", scores, lengths)
    same = structural_kd_loss(build_sequence("crf", scores, lengths), teacher)
    entropy = teacher.entropy.sum() / lengths.sum()
    torch.testing.assert_close(same, entropy)
    other = structural_kd_loss(
        build_sequence("crf", sequence_models("crf", gen, 3, False), lengths), teacher
    )
    assert other > same


def test_teacher_gets_no_gradient():
    gen = torch.Generator().manual_seed(4)
    lengths = torch.tensor(LENGTHS)
    teacher_scores = sequence_models("crf", gen, 3, True)
    student_scores = sequence_models("crf", gen, 3, True)
    loss = structural_kd_loss(
        build_sequence("crf", student_scores, lengths),
        build_sequence("crf", teacher_scores, lengths),
    )
    loss.backward()
    assert all(p.grad is None for p in teacher_scores.values())
    assert all(p.grad is not None for p in student_scores.values())


@pytest.mark.parametrize(
    "student,teacher",
    [
        (lambda a, s, l: TokenSoftmax(s, l), lambda a, s, l: DependencyCRF(a, l)),
        (
            lambda a, s, l: DependencyCRF(a, l),
            lambda a, s, l: LinearChainCRF(s, s[0, 0, :1].expand(3, 3), l),
        ),
        (lambda a, s, l: SemiMarkovCRF(s[..., None], l), lambda a, s, l: TokenSoftmax(s, l)),
    ],
)
def test_unsupported_pair_names_both_sides(student, teacher):
    gen = torch.Generator().manual_seed(5)
    lengths = torch.tensor(LENGTHS)
    arcs = rand_scores(gen, 3, 4, 4)
    seq = rand_scores(gen, 3, 3, 3)
    s, t = student(arcs, seq, lengths), teacher(arcs, seq, lengths)
    with pytest.raises(
        ValueError, match=f"{type(t).__name__} teacher to a {type(s).__name__} student"
    ):
        structural_kd_loss(s, t)


def test_mismatched_lengths_and_temperature_are_refused():
    gen = torch.Generator().manual_seed(6)
    seq = rand_scores(gen, 3, 3, 3)
    with pytest.raises(ValueError, match="lengths"):
        structural_kd_loss(
            TokenSoftmax(seq, torch.tensor([3, 1, 2])), TokenSoftmax(seq, torch.tensor([3, 2, 2]))
        )
    with pytest.raises(ValueError, match="temperature"):
        structural_kd_loss(
            TokenSoftmax(seq, torch.tensor(LENGTHS)), TokenSoftmax(seq, torch.tensor(LENGTHS)), 0.0
        )
