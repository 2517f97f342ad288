"""The one gold/KD mixing loop: (1 - alpha) * gold + alpha * KD per row, KD
computed once per group of rows with the same settings and weight."""

import pytest
import torch

from spacy_skd.pipeline.mixing import mix_gold_and_kd


def test_rows_mix_by_their_weight_and_share_kd_by_group():
    gold = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64)
    weights = [0.0, 0.25, 0.25, 0.5, 0.25]
    groups = [None, "a", "b", "a", "a"]
    calls = []

    def kd(key, rows):
        calls.append((key, rows))
        return torch.tensor(float(10 * sum(rows)), dtype=torch.float64)

    total = mix_gold_and_kd(gold, weights, groups, kd)
    # groups by (weight, key), in order of first row: a@0.25 rows 1 and 4, b, a@0.5
    assert calls == [("a", [1, 4]), ("b", [2]), ("a", [3])]
    gold_part = 1.0 + 0.75 * 2.0 + 0.75 * 3.0 + 0.5 * 4.0 + 0.75 * 5.0
    kd_part = 0.25 * 50 + 0.25 * 20 + 0.5 * 30
    assert float(total) == pytest.approx(gold_part + kd_part)


def test_rows_without_weight_cost_no_kd():
    gold = torch.tensor([1.0, 2.0])
    total = mix_gold_and_kd(gold, [0.0, 0.0], ["a", "a"], lambda key, rows: pytest.fail("kd"))
    assert float(total) == 3.0
