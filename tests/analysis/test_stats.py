"""Seed statistics (analysis.stats): intervals of the mean that stay inside the metric's range."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.render import interval_errors, signed_interval
from analysis.stats import paired_by_seed, seed_stats


def test_two_seeds_near_zero_error_keep_the_interval_at_or_above_zero() -> None:
    # Student's t put this interval's low end at -2.3%
    runs = pd.DataFrame({"method": ["a", "a"], "seed": [0, 1], "error": [0.4, 0.0]})
    row = seed_stats(runs, ["method"], ["error"]).iloc[0]
    assert row["error_n"] == 2 and row["error_mean"] == pytest.approx(0.2)
    assert 0.0 <= row["error_low"] <= row["error_mean"] <= row["error_high"] <= 0.4


@pytest.mark.parametrize("seeds", [2, 3, 5, 10])
def test_no_interval_leaves_the_values_range_whatever_the_seeds(seeds: int) -> None:
    rng = np.random.default_rng(seeds)
    runs = pd.DataFrame(
        {
            "method": np.repeat(np.arange(40), seeds),
            # errors piled against both ends of [0, 100], where a symmetric interval would spill over
            "error": np.concatenate([rng.beta(0.3, 0.3, seeds) * 100 for _ in range(40)]),
        }
    )
    table = seed_stats(runs, ["method"], ["error"])
    spans = runs.groupby("method")["error"].agg(["min", "max"])
    assert (table["error_low"] >= spans["min"].to_numpy() - 1e-9).all()
    assert (table["error_high"] <= spans["max"].to_numpy() + 1e-9).all()
    assert (table["error_low"] >= 0).all() and (table["error_high"] <= 100).all()
    errors = interval_errors(table, "error")  # matplotlib's bars: never negative lengths
    assert errors.shape == (2, 40) and (errors >= 0).all()


def test_a_single_seed_has_no_interval_and_the_same_runs_give_the_same_one() -> None:
    runs = pd.DataFrame({"method": ["a", "b", "b", "b"], "error": [5.0, 1.0, 2.0, 4.0]})
    first, again = (seed_stats(runs, ["method"], ["error"]) for _ in range(2))
    assert np.isnan(first.loc[0, "error_low"]) and np.isnan(first.loc[0, "error_high"])
    pd.testing.assert_frame_equal(first, again)
    assert interval_errors(first, "error")[:, 0].tolist() == [0.0, 0.0]


def test_paired_differences_resample_pairs_and_read_as_signed_intervals() -> None:
    runs = pd.DataFrame(
        {
            "seed": [0, 1, 2, 0, 1, 2],
            "method": ["mixup"] * 3 + ["ERM"] * 3,
            "error": [10.0, 12.0, 11.0, 11.0, 13.5, 12.0],
        }
    )
    paired = paired_by_seed(runs, "method", "mixup", "ERM", "error")
    assert paired.n == 3 and paired.estimate == pytest.approx(-7 / 6)
    # the differences are -1, -1.5, -1: every resampled mean lies between them
    assert -1.5 <= paired.low <= paired.high <= -1.0
    text = signed_interval([paired.estimate], [paired.low], [paired.high])[0]
    assert text.startswith("-1.2 [-1.") and text.endswith("]")
    assert paired_by_seed(runs, "method", "CutMix", "ERM", "error").n == 0
