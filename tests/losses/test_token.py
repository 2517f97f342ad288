import pytest
import torch
import torch.nn.functional as F

from spacy_skd.losses import token_kd_loss

F64 = torch.float64


def random_logits(seed, shape=(3, 4, 5)):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=gen, dtype=F64) * 2


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_kl_matches_torch_kl_div_per_real_token(temperature):
    student, teacher = random_logits(0), random_logits(1)
    lengths = torch.tensor([4, 1, 2])
    loss = token_kd_loss(student, teacher, lengths, temperature)
    total = 0.0
    for b, n in enumerate(lengths.tolist()):
        total = total + F.kl_div(
            (student[b, :n] / temperature).log_softmax(-1),
            (teacher[b, :n] / temperature).log_softmax(-1),
            log_target=True,
            reduction="sum",
        )
    torch.testing.assert_close(loss, temperature**2 * total / lengths.sum())


def test_ce_and_kl_differ_by_the_teacher_entropy():
    student, teacher = random_logits(2), random_logits(3)
    lengths = torch.tensor([4, 3, 1])
    mask = torch.arange(4) < lengths[:, None]
    p = teacher.softmax(-1)
    entropy = (-(p * p.log()).sum(-1) * mask).sum() / lengths.sum()
    kl = token_kd_loss(student, teacher, lengths, kind="kl")
    ce = token_kd_loss(student, teacher, lengths, kind="ce")
    torch.testing.assert_close(ce - kl, entropy)


def test_padding_is_ignored_and_identical_logits_give_zero():
    student, teacher = random_logits(4), random_logits(5)
    lengths = torch.tensor([2, 4, 1])
    changed = student.clone()
    changed[0, 2:] = 100.0
    changed[2, 1:] = -100.0
    assert token_kd_loss(student, teacher, lengths) == token_kd_loss(changed, teacher, lengths)
    torch.testing.assert_close(token_kd_loss(teacher, teacher, lengths), torch.zeros((), dtype=F64))


def test_gradients_reach_the_student_only():
    student = random_logits(6).requires_grad_()
    teacher = random_logits(7).requires_grad_()
    token_kd_loss(student, teacher).backward()
    assert teacher.grad is None and student.grad is not None


def test_bad_arguments():
    student, teacher = random_logits(8), random_logits(9, (3, 4, 6))
    with pytest.raises(ValueError, match="same shape"):
        token_kd_loss(student, teacher)
    with pytest.raises(ValueError, match="kind"):
        token_kd_loss(student, student, kind="js")
    with pytest.raises(ValueError, match="lengths"):
        token_kd_loss(student, student, torch.tensor([5, 1, 1]))
    with pytest.raises(ValueError, match="temperature"):
        token_kd_loss(student, student, temperature=-1.0)
