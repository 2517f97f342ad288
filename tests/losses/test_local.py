"""Local matching against a literal loop over the matched sub-structures."""

import pytest
import torch
from torch import Tensor

from spacy_skd.losses import local_kd_loss, local_scores_loss
from spacy_skd.losses.local_scores import SCALES
from spacy_skd.structs import DependencyCRF, HeadSelection, LinearChainCRF, TokenSoftmax

F64 = torch.float64
LENGTHS = torch.tensor([4, 1, 3])


def rand(gen, *shape):
    return torch.randn(*shape, generator=gen, dtype=F64) * 2


def crf(gen, n_labels=3):
    return LinearChainCRF(
        rand(gen, 3, 4, n_labels),
        rand(gen, n_labels, n_labels),
        LENGTHS,
        rand(gen, n_labels),
        rand(gen, n_labels),
    )


def kl(p_logits, q_logits):
    p = p_logits.log_softmax(-1)
    return (p.exp() * (p - q_logits.log_softmax(-1))).sum()


def crf_local_rows(dist, b, i):
    """[L', L] next-label scores at token i of sentence b."""
    if i == 0:
        return (dist.start[b] + dist.emissions[b, 0])[None]
    return dist.emissions[b, i][None, :] + dist.transitions[b]


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_crf_local_kl_is_the_mean_over_previous_labels(temperature):
    gen = torch.Generator().manual_seed(0)
    student, teacher = crf(gen), crf(gen)
    total = 0.0
    for b, n in enumerate(LENGTHS.tolist()):
        for i in range(n):
            s_rows = crf_local_rows(student, b, i) / temperature
            t_rows = crf_local_rows(teacher, b, i) / temperature
            total += sum(kl(t, s) for t, s in zip(t_rows, s_rows)) / s_rows.shape[0]
    expected = temperature**2 * total / LENGTHS.sum()
    torch.testing.assert_close(local_kd_loss(student, teacher, temperature), expected)


def test_softmax_teacher_is_the_target_for_every_previous_label():
    gen = torch.Generator().manual_seed(1)
    student = crf(gen)
    teacher = TokenSoftmax(rand(gen, 3, 4, 3), LENGTHS)
    total = 0.0
    for b, n in enumerate(LENGTHS.tolist()):
        for i in range(n):
            rows = crf_local_rows(student, b, i)
            total += sum(kl(teacher.logits[b, i], row) for row in rows) / rows.shape[0]
    torch.testing.assert_close(local_kd_loss(student, teacher), total / LENGTHS.sum())


def test_softmax_to_softmax_is_token_kl():
    gen = torch.Generator().manual_seed(2)
    s, t = rand(gen, 3, 4, 5), rand(gen, 3, 4, 5)
    total = sum(kl(t[b, i], s[b, i]) for b, n in enumerate(LENGTHS.tolist()) for i in range(n))
    loss = local_kd_loss(TokenSoftmax(s, LENGTHS), TokenSoftmax(t, LENGTHS))
    torch.testing.assert_close(loss, total / LENGTHS.sum())


@pytest.mark.parametrize("student_cls", [DependencyCRF, HeadSelection])
@pytest.mark.parametrize("teacher_cls", [DependencyCRF, HeadSelection])
def test_tree_local_kl_is_per_dependent_head_kl(student_cls, teacher_cls):
    gen = torch.Generator().manual_seed(3)
    s, t = rand(gen, 3, 5, 5), rand(gen, 3, 5, 5)
    total = 0.0
    for b, n in enumerate(LENGTHS.tolist()):
        for d in range(1, n + 1):
            heads = [h for h in range(n + 1) if h != d]
            total += kl(t[b, heads, d], s[b, heads, d])
    loss = local_kd_loss(student_cls(s, LENGTHS), teacher_cls(t, LENGTHS))
    torch.testing.assert_close(loss, total / LENGTHS.sum())


@pytest.mark.parametrize("with_transitions", [True, False])
def test_crf_local_scores_is_lin_et_al_mse(with_transitions):
    gen = torch.Generator().manual_seed(4)
    student, teacher = crf(gen), crf(gen)
    total = 0.0
    for b, n in enumerate(LENGTHS.tolist()):
        for i in range(n):
            if with_transitions:
                diff = crf_local_rows(student, b, i) - crf_local_rows(teacher, b, i)
            else:
                diff = student.emissions[b, i] - teacher.emissions[b, i]
            total += (diff**2).mean()
    loss = local_scores_loss(
        student, teacher, temperature=3.0, with_transitions=with_transitions, scale="raw"
    )
    torch.testing.assert_close(loss, total / LENGTHS.sum())


def test_tree_local_scores_ignore_a_shift_per_dependent():
    gen = torch.Generator().manual_seed(5)
    t = rand(gen, 3, 5, 5)
    shifted = t + rand(gen, 3, 1, 5)
    same = local_scores_loss(DependencyCRF(shifted, LENGTHS), DependencyCRF(t, LENGTHS))
    torch.testing.assert_close(same, torch.zeros((), dtype=F64))
    other = local_scores_loss(DependencyCRF(rand(gen, 3, 5, 5), LENGTHS), DependencyCRF(t, LENGTHS))
    assert other > 0.1


def test_unsupported_pairs_are_refused_with_both_names():
    gen = torch.Generator().manual_seed(6)
    softmax = TokenSoftmax(rand(gen, 3, 4, 3), LENGTHS)
    with pytest.raises(ValueError, match="LinearChainCRF teacher to a TokenSoftmax student"):
        local_kd_loss(softmax, crf(gen))
    with pytest.raises(ValueError, match="TokenSoftmax teacher to a LinearChainCRF student"):
        local_scores_loss(crf(gen), softmax)
    with pytest.raises(ValueError, match="DependencyCRF teacher to a LinearChainCRF student"):
        local_kd_loss(crf(gen), DependencyCRF(rand(gen, 3, 5, 5), LENGTHS))


def test_crf_per_position_normalises_over_label_pairs():
    gen = torch.Generator().manual_seed(7)
    student, teacher = crf(gen), crf(gen)
    total = 0.0
    for b, n in enumerate(LENGTHS.tolist()):
        for i in range(n):
            s_rows = crf_local_rows(student, b, i).flatten()
            t_rows = crf_local_rows(teacher, b, i).flatten()
            total += kl(t_rows, s_rows)
    loss = local_kd_loss(student, teacher, normalise="per_position")
    torch.testing.assert_close(loss, total / LENGTHS.sum())


def test_softmax_teacher_per_position_is_the_product_of_token_distributions():
    gen = torch.Generator().manual_seed(8)
    student = crf(gen)
    logits = rand(gen, 3, 4, 3)
    total = 0.0
    for b, n in enumerate(LENGTHS.tolist()):
        for i in range(n):
            log_p = logits[b, i].log_softmax(-1)
            target = (
                log_p if i == 0 else (logits[b, i - 1].log_softmax(-1)[:, None] + log_p).flatten()
            )
            total += kl(target, crf_local_rows(student, b, i).flatten())
    loss = local_kd_loss(student, TokenSoftmax(logits, LENGTHS), normalise="per_position")
    torch.testing.assert_close(loss, total / LENGTHS.sum())


def test_a_bias_on_transitions_out_of_a_label_fools_only_per_previous():
    """The documented limit: per_previous cannot see a bias a(y') on the
    transitions out of y', though it changes the CRF's distribution."""
    gen = torch.Generator().manual_seed(9)
    teacher = crf(gen)
    bias = rand(gen, 3, 1)
    student = LinearChainCRF(
        teacher.emissions, teacher.transitions + bias, LENGTHS, teacher.start, teacher.end
    )
    zero = torch.zeros((), dtype=F64)
    torch.testing.assert_close(local_kd_loss(student, teacher), zero)
    assert local_kd_loss(student, teacher, normalise="per_position") > 1e-3
    assert (teacher.kl(student) > 1e-3).any()
    # A constant per position is invisible to both forms and to the CRF itself.
    shifted = LinearChainCRF(
        teacher.emissions + rand(gen, 3, 4, 1),
        teacher.transitions,
        LENGTHS,
        teacher.start,
        teacher.end,
    )
    torch.testing.assert_close(local_kd_loss(shifted, teacher, normalise="per_position"), zero)
    torch.testing.assert_close(teacher.kl(shifted), torch.zeros(3, dtype=F64))


def test_unknown_normalise_is_refused():
    gen = torch.Generator().manual_seed(10)
    with pytest.raises(ValueError, match="normalise"):
        local_kd_loss(crf(gen), crf(gen), normalise="global")


@pytest.mark.parametrize("scale", SCALES)
def test_crf_local_scores_skip_forbidden_parts_on_either_side(scale):
    # A teacher with forbidden transitions (BILUO constraints: score -inf) and a
    # student without them, or forbidding others: only parts allowed on both
    # sides are matched, and loss and gradients stay finite.
    torch.manual_seed(0)
    lengths = torch.tensor([4, 3])
    emissions = torch.randn(2, 4, 3, requires_grad=True)
    student_transitions = torch.randn(3, 3).masked_fill(torch.eye(3).bool(), float("-inf"))
    student_transitions.requires_grad_()
    teacher_transitions = torch.randn(3, 3)
    teacher_transitions[0, 1] = teacher_transitions[2, 0] = float("-inf")
    teacher = LinearChainCRF(torch.randn(2, 4, 3), teacher_transitions, lengths)
    student = LinearChainCRF(emissions, student_transitions, lengths)
    loss = local_scores_loss(student, teacher, scale=scale)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(emissions.grad).all() and torch.isfinite(student_transitions.grad).all()
    # no gradient reaches a part forbidden on either side
    assert student_transitions.grad[0, 1] == 0 and student_transitions.grad[2, 0] == 0
    assert student_transitions.grad[1, 1] == 0


def forbidding(scores, *indices):
    """A copy of `scores` with -inf (a forbidden part) at each index."""
    scores = scores.clone()
    for index in indices:
        scores[index] = float("-inf")
    return scores


def test_crf_local_scores_with_forbidden_parts_equal_a_loop_over_the_allowed_parts():
    # Forbidden start labels, transitions and emissions on either side: each
    # token's error is the sum over its allowed parts over the number of parts.
    gen = torch.Generator().manual_seed(9)
    s, t = crf(gen, n_labels=4), crf(gen, n_labels=4)
    student = LinearChainCRF(
        forbidding(s.emissions, (0, 2, 1)),
        forbidding(s.transitions[0], (1, 3)),
        LENGTHS,
        forbidding(s.start[0], 0),
        s.end[0],
    )
    teacher = LinearChainCRF(
        t.emissions,
        forbidding(t.transitions[0], (2, 0), (0, 0)),
        LENGTHS,
        forbidding(t.start[0], 3),
        t.end[0],
    )
    total = 0.0
    for b, n in enumerate(LENGTHS.tolist()):
        for i in range(n):
            rows_s, rows_t = crf_local_rows(student, b, i), crf_local_rows(teacher, b, i)
            allowed = (rows_s > -1e29) & (rows_t > -1e29)
            total += ((rows_s - rows_t)[allowed] ** 2).sum() / rows_s.numel()
    loss = local_scores_loss(student, teacher, scale="raw")
    torch.testing.assert_close(loss, total / LENGTHS.sum())


def centred(scores, dims):
    return scores - scores.mean(dims, keepdim=True)


def test_crf_relative_local_scores_equal_a_loop_over_centred_parts():
    # Centred per token (emissions), per sentence (start, transitions), and
    # divided by the error of a student whose scores are all equal.
    gen = torch.Generator().manual_seed(10)
    student, teacher = crf(gen), crf(gen)

    def centred_crf(d):
        return LinearChainCRF(
            centred(d.emissions, -1),
            centred(d.transitions, (-2, -1)),
            LENGTHS,
            centred(d.start, -1),
            d.end,
        )

    s, t = centred_crf(student), centred_crf(teacher)
    error = nothing = 0.0
    for b, n in enumerate(LENGTHS.tolist()):
        for i in range(n):
            rows_t = crf_local_rows(t, b, i)
            error += ((crf_local_rows(s, b, i) - rows_t) ** 2).mean()
            nothing += (rows_t**2).mean()
    torch.testing.assert_close(local_scores_loss(student, teacher), error / nothing)


def test_crf_relative_local_scores_ignore_the_shifts_a_crf_ignores_and_the_scale():
    gen = torch.Generator().manual_seed(11)
    student, teacher = crf(gen), crf(gen)
    loss = local_scores_loss(student, teacher)
    shifted = LinearChainCRF(
        student.emissions + rand(gen, 3, 4, 1),
        student.transitions + 1.5,
        LENGTHS,
        student.start - 2.0,
        student.end,
    )
    torch.testing.assert_close(local_scores_loss(shifted, teacher), loss)
    scaled = [
        LinearChainCRF(d.emissions * 7, d.transitions * 7, LENGTHS, d.start * 7, d.end)
        for d in (student, teacher)
    ]
    torch.testing.assert_close(local_scores_loss(*scaled), loss)
    same = LinearChainCRF(
        teacher.emissions + 3.0, teacher.transitions, LENGTHS, teacher.start, teacher.end
    )
    torch.testing.assert_close(local_scores_loss(same, teacher), torch.zeros((), dtype=F64))
    flat = LinearChainCRF(torch.zeros(3, 4, 3, dtype=F64), torch.zeros(3, 3, dtype=F64), LENGTHS)
    torch.testing.assert_close(local_scores_loss(flat, teacher), torch.ones((), dtype=F64))
    # Lin et al.'s raw form is not blind to the shifts
    raw = local_scores_loss(student, teacher, scale="raw")
    assert not torch.isclose(local_scores_loss(shifted, teacher, scale="raw"), raw)


def test_tree_relative_local_scores_are_free_of_the_scale():
    gen = torch.Generator().manual_seed(12)
    s, t = rand(gen, 3, 5, 5), rand(gen, 3, 5, 5)
    loss = local_scores_loss(DependencyCRF(s, LENGTHS), DependencyCRF(t, LENGTHS))
    scaled = local_scores_loss(DependencyCRF(s * 5, LENGTHS), DependencyCRF(t * 5, LENGTHS))
    torch.testing.assert_close(scaled, loss)
    raw = local_scores_loss(DependencyCRF(s, LENGTHS), DependencyCRF(t, LENGTHS), scale="raw")
    raw_scaled = local_scores_loss(
        DependencyCRF(s * 5, LENGTHS), DependencyCRF(t * 5, LENGTHS), scale="raw"
    )
    torch.testing.assert_close(raw_scaled, 25 * raw)
    flat = local_scores_loss(DependencyCRF(torch.zeros_like(s), LENGTHS), DependencyCRF(t, LENGTHS))
    torch.testing.assert_close(flat, torch.ones((), dtype=F64))


def test_spread_local_scores_are_the_relative_error_times_the_teachers_spread():
    gen = torch.Generator().manual_seed(14)
    for student, teacher in [
        (crf(gen), crf(gen)),
        (DependencyCRF(rand(gen, 3, 5, 5), LENGTHS), DependencyCRF(rand(gen, 3, 5, 5), LENGTHS)),
    ]:
        relative = local_scores_loss(student, teacher)
        flat = type(student)(*[torch.zeros_like(a) for a in _scores(student)], LENGTHS)
        baseline = local_scores_loss(flat, teacher, scale="spread")
        # a student that knows nothing: the teacher's root-mean-square centred score
        spread = local_scores_loss(student, teacher, scale="spread")
        torch.testing.assert_close(spread, relative * baseline)
        if isinstance(student, DependencyCRF):
            # arcs are centred under every scale: the raw per-word error of a
            # student that knows nothing is the teacher's mean square
            raw = local_scores_loss(flat, teacher, scale="raw")
            torch.testing.assert_close(baseline, raw.sqrt())
            assert not torch.isclose(baseline, torch.ones((), dtype=F64))


def _scores(dist):
    if isinstance(dist, LinearChainCRF):
        return dist.emissions, dist.transitions
    return (dist.arc_scores,)


@pytest.mark.parametrize("make", ["crf", "tree"])
def test_spread_local_scores_gradient_is_free_of_the_scale(make):
    # Both sides' scores times c: the loss grows as c, so its gradient with
    # respect to the scaled student scores is the unscaled one; "relative"'s
    # shrinks as 1 / c and "raw"'s grows as c.
    gen = torch.Generator().manual_seed(15)
    s, t = rand(gen, 3, 4, 3), rand(gen, 3, 4, 3)
    s_trans, t_trans = rand(gen, 3, 3), rand(gen, 3, 3)
    if make == "tree":
        s, t = rand(gen, 3, 5, 5), rand(gen, 3, 5, 5)

    def gradient(c: float, scale: str) -> Tensor:
        scores = (s * c).requires_grad_()
        if make == "crf":
            student = LinearChainCRF(scores, s_trans * c, LENGTHS)
            teacher = LinearChainCRF(t * c, t_trans * c, LENGTHS)
        else:
            student, teacher = DependencyCRF(scores, LENGTHS), DependencyCRF(t * c, LENGTHS)
        (grad,) = torch.autograd.grad(local_scores_loss(student, teacher, scale=scale), scores)
        return grad

    torch.testing.assert_close(gradient(10.0, "spread"), gradient(1.0, "spread"))
    torch.testing.assert_close(gradient(10.0, "relative"), gradient(1.0, "relative") / 10)
    torch.testing.assert_close(gradient(10.0, "raw"), gradient(1.0, "raw") * 10)


def test_unknown_local_scores_scale_is_refused():
    gen = torch.Generator().manual_seed(16)
    with pytest.raises(ValueError, match="scale"):
        local_scores_loss(crf(gen), crf(gen), scale="variance")


def test_crf_relative_local_scores_count_only_the_parts_the_student_allows():
    # A student that knows nothing scores 1 even where it forbids parts the
    # teacher allows: those parts are left out of both error sums.
    gen = torch.Generator().manual_seed(13)
    teacher = crf(gen)
    flat = LinearChainCRF(
        torch.zeros(3, 4, 3, dtype=F64),
        forbidding(torch.zeros(3, 3, dtype=F64), (0, 1), (2, 2)),
        LENGTHS,
    )
    torch.testing.assert_close(local_scores_loss(flat, teacher), torch.ones((), dtype=F64))


def loop_local_kl(student, teacher, temperature=1.0):
    """The per-previous-label local KL by a loop over tokens and previous labels."""
    total = 0.0
    for b, n in enumerate(student.lengths.tolist()):
        for i in range(n):
            s_rows = crf_local_rows(student, b, i) / temperature
            t_rows = crf_local_rows(teacher, b, i) / temperature
            total += sum(kl(t, s) for t, s in zip(t_rows, s_rows)) / s_rows.shape[0]
    return temperature**2 * total / student.lengths.sum()


def test_crf_local_kl_with_forbidden_parts_equals_the_loop():
    """Parts both sides forbid add nothing; a part only the teacher forbids is
    a next label the student must unlearn (finite KL)."""
    gen = torch.Generator().manual_seed(11)
    student, teacher = crf(gen), crf(gen)
    both, teacher_only = (0, 1), (2, 0)
    s_trans, t_trans = student.transitions[0].clone(), teacher.transitions[0].clone()
    s_trans[both] = t_trans[both] = float("-inf")
    t_trans[teacher_only] = float("-inf")
    student = LinearChainCRF(student.emissions, s_trans, LENGTHS, student.start[0], student.end[0])
    teacher = LinearChainCRF(teacher.emissions, t_trans, LENGTHS, teacher.start[0], teacher.end[0])
    loss = local_kd_loss(student, teacher, 2.0)
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, loop_local_kl(student, teacher, 2.0))


def test_crf_local_kl_of_scores_far_apart_stays_exact():
    """Rows whose factored normaliser would underflow (a label 1000 above the
    others, the only way to it 1000 below) are summed exactly instead."""
    gen = torch.Generator().manual_seed(12)
    teacher = crf(gen)
    emissions = rand(gen, 3, 4, 3)
    emissions[..., 0] += 1000.0
    transitions = rand(gen, 3, 3)
    transitions[1, 0] -= 1000.0
    student = LinearChainCRF(emissions, transitions, LENGTHS, rand(gen, 3), rand(gen, 3))
    for s, t in ((student, teacher), (teacher, student)):
        loss = local_kd_loss(s, t)
        assert torch.isfinite(loss)
        torch.testing.assert_close(loss, loop_local_kl(s, t))


def test_crf_local_kl_in_float32_matches_float64():
    gen = torch.Generator().manual_seed(13)
    student, teacher = crf(gen, n_labels=6), crf(gen, n_labels=6)
    single = [
        LinearChainCRF(*(x.float() for x in (d.emissions, d.transitions)), LENGTHS, d.start.float())
        for d in (student, teacher)
    ]
    double = [
        LinearChainCRF(d.emissions, d.transitions, LENGTHS, d.start) for d in (student, teacher)
    ]
    loss = local_kd_loss(*single, 1.5)
    assert loss.dtype == torch.float32
    expected = local_kd_loss(*double, 1.5)
    torch.testing.assert_close(loss.double(), expected, rtol=1e-5, atol=1e-6)
