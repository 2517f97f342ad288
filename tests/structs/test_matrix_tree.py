"""The matrix-tree partition function where a plain LU determinant fails."""

import pytest
import torch

from spacy_skd.structs import DependencyCRF
from tests.structs.brute import tree_enumerations


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
    from spacy_skd.structs.matrix_tree import matrix_tree_log_partition

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
