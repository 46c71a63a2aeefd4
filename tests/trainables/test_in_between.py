"""Figure 2's measurement: fixed pairs, sane bounds, and mixup lower than ERM between examples."""

from __future__ import annotations

import numpy as np
import pytest

from trainables import TrainConfig, Trial
from trainables.in_between import in_between


def _trained(alpha: float) -> Trial:
    trial = Trial(TrainConfig(dataset="digits", model="cnn", alpha=alpha, seed=0, device="cpu"))
    for _ in range(8):
        trial.train_epoch()
    return trial


@pytest.fixture(scope="module")
def models() -> dict[str, Trial]:
    return {"erm": _trained(0.0), "mixup": _trained(1.0)}


def test_rows_are_bounded_and_repeatable(models: dict[str, Trial]) -> None:
    rows = in_between(models["erm"], [0.0, 0.5, 1.0], pairs=300)
    assert [r["lambda"] for r in rows] == [0.0, 0.5, 1.0]
    assert all(0 <= r["miss_rate"] <= 100 and r["gradient_norm"] > 0 for r in rows)
    assert rows == in_between(models["erm"], [0.0, 0.5, 1.0], pairs=300)


def test_at_the_ends_a_miss_needs_a_wrong_prediction(models: dict[str, Trial]) -> None:
    """At lambda = 1 the input is x_i itself: a miss is a misclassified x_i, so the rate is at most the
    training error."""
    trial = models["erm"]
    [row] = in_between(trial, [1.0], pairs=1000)
    train_error = 100 * (trial.predict(trial.x_train) != trial.y_train_true).double().mean().item()
    assert row["miss_rate"] <= train_error + 5


def test_mixup_misses_less_and_is_smoother_between_examples(models: dict[str, Trial]) -> None:
    lambdas = np.linspace(0.3, 0.7, 3)
    erm, mixup = (
        in_between(models["erm"], lambdas, pairs=500),
        in_between(models["mixup"], lambdas, pairs=500),
    )
    assert np.mean([r["miss_rate"] for r in mixup]) < np.mean([r["miss_rate"] for r in erm])
    assert np.mean([r["gradient_norm"] for r in mixup]) < np.mean([r["gradient_norm"] for r in erm])
