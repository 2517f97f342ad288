"""The matrix-tree partition function where a plain LU determinant fails."""

import pytest
import torch

from spacy_skd.structs import DependencyCRF
from spacy_skd.structs.matrix_tree import gth_log_det, matrix_tree_log_partition
from tests.structs.brute import arc_marginals, tree_enumerations


def cycle_scores(strength: float) -> torch.Tensor:
    """Arc scores `[1, 5, 5]` whose best heads form the cycle 2 -> 3 -> 4 -> 2,
    with every other arc, ROOT's included, far weaker: every tree must use a
    weak arc, so Z is tiny next to the product of the column maxima."""
    scores = torch.full((1, 5, 5), -strength, dtype=torch.float64)
    for head, dep in [(2, 3), (3, 4), (4, 2), (2, 1)]:
        scores[0, head, dep] = strength
    gen = torch.Generator().manual_seed(0)
    return scores + torch.rand(1, 5, 5, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("strength", [5.0, 20.0, 45.0])
@pytest.mark.parametrize("single_root", [True, False])
def test_partition_and_marginals_with_a_strong_cycle(strength, single_root):
    scores = cycle_scores(strength).requires_grad_()
    lengths = torch.tensor([4])
    dist = DependencyCRF(scores, lengths, single_root=single_root)
    (enum,) = tree_enumerations(scores, lengths, projective=False, single_root=single_root)
    torch.testing.assert_close(dist.log_partition[0], enum.log_partition, atol=1e-6, rtol=1e-9)
    expected = torch.zeros(5, 5, dtype=torch.float64)
    for heads, p in zip(enum.structs.tolist(), enum.probs):
        for dep, head in enumerate(heads, start=1):
            expected[head, dep] += p
    torch.testing.assert_close(dist.marginals[0], expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("single_root", [True, False])
def test_float32_at_magnitude_100_is_finite_and_right(single_root):
    scores = cycle_scores(99.0).float()
    lengths = torch.tensor([4])
    dist = DependencyCRF(scores, lengths, single_root=single_root)
    (enum,) = tree_enumerations(scores.double(), lengths, projective=False, single_root=single_root)
    assert dist.log_partition.dtype == torch.float32
    torch.testing.assert_close(
        dist.log_partition[0].double(), enum.log_partition, rtol=1e-6, atol=1e-3
    )
    assert torch.isfinite(dist.marginals).all()


def test_a_range_too_wide_for_float64_is_a_clear_error():
    scores = cycle_scores(1000.0)
    with pytest.raises(ValueError, match="range"):
        _ = DependencyCRF(scores, torch.tensor([4])).log_partition


@pytest.mark.parametrize("single_root", [True, False])
def test_wide_offsets_between_words_are_exact(single_root):
    """Only the range of the scores into one word matters: shifting a word's
    column shifts every tree alike, so offsets of +-400 between columns (a global
    range of 800) are fine, and log Z moves by their sum."""
    gen = torch.Generator().manual_seed(1)
    small = torch.randn(1, 5, 5, generator=gen, dtype=torch.float64) * 3
    offsets = torch.tensor([0.0, 400.0, -400.0, 250.0, -100.0], dtype=torch.float64)
    lengths = torch.tensor([4])
    shifted = DependencyCRF(small + offsets, lengths, single_root=single_root)
    plain = DependencyCRF(small, lengths, single_root=single_root)
    torch.testing.assert_close(
        shifted.log_partition, plain.log_partition + offsets[1:].sum(), atol=1e-9, rtol=1e-12
    )
    torch.testing.assert_close(shifted.marginals, plain.marginals, atol=1e-9, rtol=0)


def test_every_tree_counted_once_for_all_equal_scores():
    """Cayley: (n+1)^(n-1) trees on n words with any number of root children,
    n^(n-1) with exactly one."""
    for n in range(1, 6):
        zeros = torch.zeros(1, n + 1, n + 1, dtype=torch.float64)
        multi = DependencyCRF(zeros, torch.tensor([n]), single_root=False).log_partition
        single = DependencyCRF(zeros, torch.tensor([n]), single_root=True).log_partition
        torch.testing.assert_close(
            multi.exp()[0], torch.tensor((n + 1.0) ** (n - 1), dtype=torch.float64)
        )
        torch.testing.assert_close(
            single.exp()[0], torch.tensor(float(n) ** (n - 1), dtype=torch.float64)
        )


@pytest.mark.parametrize("single_root", [True, False])
def test_the_hand_written_adjoint_passes_gradcheck(single_root):
    scores = cycle_scores(3.0).requires_grad_()
    word_mask = torch.tensor([[False, True, True, True, True]])
    assert torch.autograd.gradcheck(
        lambda s: matrix_tree_log_partition(s, word_mask, single_root), (scores,)
    )
    fast = torch.autograd.grad(matrix_tree_log_partition(scores, word_mask, single_root), scores)
    slow = torch.autograd.grad(
        matrix_tree_log_partition(scores, word_mask, single_root, double_differentiable=True),
        scores,
    )
    torch.testing.assert_close(fast, slow)


def random_batch(lengths: list, n_max: int, seed: int) -> tuple:
    gen = torch.Generator().manual_seed(seed)
    size = (len(lengths), n_max + 1, n_max + 1)
    return 3 * torch.randn(size, generator=gen, dtype=torch.float64), torch.tensor(lengths)


@pytest.mark.parametrize("single_root", [True, False])
def test_mixed_lengths_in_one_batch_are_each_exact(single_root):
    """The elimination sorts the batch by length and skips the words past each
    sentence's end: an unsorted batch, padded beyond its longest sentence, gives
    every sentence its enumerated log Z and marginals, and no gradient to padding."""
    scores, lengths = random_batch([3, 5, 1, 4, 5, 2], 7, seed=2)
    scores.requires_grad_()
    dist = DependencyCRF(scores, lengths, single_root=single_root)
    (grad,) = torch.autograd.grad(dist.log_partition.sum(), scores)
    enums = tree_enumerations(scores.detach(), lengths, projective=False, single_root=single_root)
    expected_log_z = torch.stack([e.log_partition for e in enums])
    torch.testing.assert_close(dist.log_partition, expected_log_z, atol=1e-9, rtol=1e-12)
    torch.testing.assert_close(dist.marginals, arc_marginals(enums, 7), atol=1e-9, rtol=0)
    torch.testing.assert_close(grad, arc_marginals(enums, 7), atol=1e-9, rtol=0)


@pytest.mark.parametrize("single_root", [True, False])
def test_second_order_through_the_adjoint(single_root):
    """The hand-written adjoint is itself differentiable (marginals with
    create_graph): gradgradcheck passes on a padded batch of mixed lengths, and
    a Hessian-vector product matches autograd through the whole elimination."""
    scores, lengths = random_batch([3, 1, 4], 5, seed=3)
    scores.requires_grad_()
    assert torch.autograd.gradgradcheck(
        lambda s: DependencyCRF(s, lengths, single_root=single_root).log_partition, (scores,)
    )
    direction = torch.randn(scores.shape, generator=torch.Generator().manual_seed(4)).double()

    def hessian_times_direction(double_differentiable):
        dist = DependencyCRF(scores, lengths)
        log_z = matrix_tree_log_partition(
            dist.arc_scores, dist.word_mask, single_root, double_differentiable
        )
        (grad,) = torch.autograd.grad(log_z.sum(), scores, create_graph=True)
        return torch.autograd.grad((grad * direction).sum(), scores)[0]

    torch.testing.assert_close(hessian_times_direction(False), hessian_times_direction(True))


@pytest.mark.parametrize("double_differentiable", [False, True])
def test_gth_log_det_is_the_laplacian_log_det_and_ignores_words_past_the_end(
    double_differentiable,
):
    """Against torch.logdet of the Laplacian built from the definition, on weights
    far from any cycle trouble; weights past each sentence's last word are ignored
    (whatever they hold) and get no gradient."""
    gen = torch.Generator().manual_seed(5)
    extents = torch.tensor([2, 5, 1, 4])
    weights = torch.rand(4, 6, 5, generator=gen, dtype=torch.float64) + 0.1
    past_end = torch.arange(6)[None, :, None] > extents[:, None, None]
    past_end = past_end | (torch.arange(1, 6)[None, None, :] > extents[:, None, None])
    garbage = 1e3 * torch.rand(weights.shape, generator=gen, dtype=torch.float64)
    weights = torch.where(past_end, garbage, weights).requires_grad_()
    log_det = gth_log_det(weights, extents, double_differentiable)
    for b, n in enumerate(extents.tolist()):
        kept = weights.detach()[b, : n + 1, :n]
        own = torch.eye(n, dtype=torch.bool)
        between = kept[1:].masked_fill(own, 0.0)
        laplacian = torch.diag(kept[0] + between.sum(0)) - between
        torch.testing.assert_close(log_det[b], torch.logdet(laplacian))
    (grad,) = torch.autograd.grad(log_det.sum(), weights)
    assert (grad[past_end] == 0).all()
