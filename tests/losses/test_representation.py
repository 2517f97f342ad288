import pytest
import torch

from spacy_skd.losses import HiddenStateLoss, attention_kd_loss, hidden_state_loss

F64 = torch.float64
LENGTHS = torch.tensor([4, 2])


def rand(seed, *shape):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def test_mse_and_cosine_per_real_token():
    s, t = rand(0, 2, 4, 6), rand(1, 2, 4, 6)
    rows = [(0, i) for i in range(4)] + [(1, i) for i in range(2)]
    mse = sum(((s[b, i] - t[b, i]) ** 2).mean() for b, i in rows) / 6
    cos = (
        sum(1 - torch.dot(s[b, i], t[b, i]) / (s[b, i].norm() * t[b, i].norm()) for b, i in rows)
        / 6
    )
    torch.testing.assert_close(hidden_state_loss(s, t, LENGTHS, "mse"), mse)
    torch.testing.assert_close(hidden_state_loss(s, t, LENGTHS, "cosine"), cos)


def test_projection_only_when_widths_differ_and_it_learns():
    assert isinstance(HiddenStateLoss(8, 8).projection, torch.nn.Identity)
    torch.manual_seed(0)
    loss_fn = HiddenStateLoss(4, 8, kind="mse")
    assert isinstance(loss_fn.projection, torch.nn.Linear)
    student = torch.randn(2, 5, 4)
    teacher = student @ torch.randn(4, 8)
    optimizer = torch.optim.Adam(loss_fn.parameters(), lr=0.05)
    first = loss_fn(student, teacher).item()
    for _ in range(300):
        optimizer.zero_grad()
        loss = loss_fn(student, teacher)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.01 * first


def test_attention_kl_per_row_mean_over_heads():
    s = rand(2, 2, 3, 4, 4).softmax(-1)
    t = rand(3, 2, 3, 4, 4).softmax(-1)
    lengths = torch.tensor([4, 4])
    expected = (t * (t.log() - s.log())).sum(-1).mean(1).sum() / 8
    torch.testing.assert_close(attention_kd_loss(s, t, lengths), expected)
    torch.testing.assert_close(attention_kd_loss(t, t, lengths), torch.zeros((), dtype=F64))


def test_attention_padding_is_ignored():
    s = rand(4, 1, 2, 4, 4).softmax(-1)
    t = torch.zeros(1, 2, 4, 4, dtype=F64)
    t[..., :2, :2] = rand(5, 1, 2, 2, 2).softmax(-1)
    short = torch.tensor([2])
    changed = s.clone()
    changed[..., 2:, :] = 0.25
    assert attention_kd_loss(s, t, short) == attention_kd_loss(changed, t, short)


def test_bad_arguments():
    with pytest.raises(ValueError, match="kind"):
        hidden_state_loss(rand(0, 1, 2, 3), rand(0, 1, 2, 3), kind="l1")
    with pytest.raises(ValueError, match="same shape"):
        hidden_state_loss(rand(0, 1, 2, 3), rand(0, 1, 2, 4))
    with pytest.raises(ValueError, match="same shape"):
        attention_kd_loss(rand(0, 1, 2, 3, 3), rand(0, 1, 4, 3, 3))
