"""Adaptive and classwise ECE, the Brier score and temperature scaling (issue 31), each against a textbook
loop; temperature scaling on a model made over-confident on purpose."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from trainables.calibration import BINS, example_scores
from trainables.calibration_scores import adaptive_ece, brier, classwise_ece, fit_temperature, nll, scaled


def _case(n: int = 1_000, classes: int = 5, sharpen: float = 1.0, seed: int = 0):  # type: ignore[no-untyped-def]
    """Labels drawn from softmax(true logits), so the true logits are calibrated; ``sharpen`` times them
    makes a model over-confident by that temperature."""
    generator = torch.Generator().manual_seed(seed)
    true_logits = torch.randn(n, classes, generator=generator) * 2
    labels = torch.multinomial(F.softmax(true_logits, 1), 1, generator=generator).squeeze(1)
    return true_logits * sharpen, labels


def test_adaptive_ece_is_the_gap_over_equal_count_bins() -> None:
    logits, labels = _case(sharpen=3.0)
    confidence, right, _ = example_scores(logits, labels)
    order = np.argsort(confidence.numpy(), kind="stable")
    gap = sum(
        abs(right.numpy()[part].sum() - confidence.numpy()[part].astype(np.float64).sum())
        for part in np.array_split(order, BINS)
    )
    assert adaptive_ece(confidence, right) == pytest.approx(100 * gap / len(order), rel=1e-9)
    assert adaptive_ece(confidence, right) > 5  # over-confident by 3x


def test_classwise_ece_averages_each_classs_gap_over_equal_width_bins() -> None:
    logits, labels = _case(n=400, classes=4, sharpen=2.0, seed=1)
    p = F.softmax(logits, 1).double().numpy()
    total = 0.0
    for k in range(4):
        sums = {}
        for i in range(len(p)):
            b = min(max(int(np.ceil(p[i, k] * BINS)), 1), BINS) - 1
            count, prob, hits = sums.get(b, (0, 0.0, 0.0))
            sums[b] = (count + 1, prob + p[i, k], hits + int(labels[i] == k))
        total += sum(abs(hits - prob) for _, prob, hits in sums.values()) / len(p)
    assert classwise_ece(F.softmax(logits, 1), labels) == pytest.approx(100 * total / 4, rel=1e-9)


def test_the_brier_score_is_the_squared_distance_to_the_one_hot_label() -> None:
    logits, labels = _case(n=50, classes=3, seed=2)
    p = F.softmax(logits, 1).double()
    squared = [[(p[i, k].item() - (k == int(labels[i]))) ** 2 for k in range(3)] for i in range(50)]
    by_hand = np.mean([sum(row) for row in squared])
    assert brier(p, labels) == pytest.approx(by_hand, rel=1e-12)
    assert brier(F.one_hot(labels, 3).double(), labels) == 0.0


def test_temperature_scaling_finds_the_over_confidence_made_on_purpose_and_nll_falls() -> None:
    validation, val_labels = _case(n=4_000, sharpen=3.0, seed=3)  # three times too confident
    test, test_labels = _case(n=4_000, sharpen=3.0, seed=4)
    temperature = fit_temperature(validation, val_labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    grid = np.exp(np.linspace(np.log(0.5), np.log(10), 1_501))  # a textbook search over T
    best = grid[np.argmin([nll(validation, val_labels, t) for t in grid])]
    assert temperature == pytest.approx(best, rel=2e-3)
    assert nll(validation, val_labels, temperature) < nll(validation, val_labels) - 0.1
    assert nll(test, test_labels, temperature) < nll(test, test_labels)  # it carries to the test split
    before = adaptive_ece(*example_scores(test, test_labels)[:2])
    after = adaptive_ece(*example_scores(scaled(test, temperature), test_labels)[:2])
    assert after < before / 3
    assert torch.equal(scaled(test, temperature).argmax(1), test.argmax(1))  # the predictions stay


def test_a_calibrated_model_keeps_a_temperature_near_one() -> None:
    logits, labels = _case(n=4_000, seed=5)
    assert fit_temperature(logits, labels) == pytest.approx(1.0, abs=0.08)
