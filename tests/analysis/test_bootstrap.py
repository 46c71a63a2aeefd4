"""The seed statistics of ``analysis.bootstrap`` against textbook computations: a percentile interval
resampled by hand, BCa from its definition (Efron & Tibshirani, 1993, 14.3) on scipy's own bootstrap
distribution, the IQM by sorting, the probability of improvement by counting pairs, and Wilcoxon's exact
p-value by enumerating every sign assignment; and every interval inside the values' range."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.special import ndtr, ndtri
from scipy.stats import bootstrap

from analysis.bootstrap import (
    bootstrap_interval,
    iqm,
    paired_difference,
    probability_of_improvement,
    wilcoxon_signed_rank,
)

ERRORS = np.array([0.4, 0.0, 2.5, 0.1, 0.0, 7.0])  # six seeds' test errors (%), near the floor


def test_a_percentile_interval_agrees_with_resampling_by_hand() -> None:
    rng = np.random.default_rng(1)
    resampled = ERRORS[rng.integers(0, len(ERRORS), size=(40_000, len(ERRORS)))].mean(1)
    by_hand = np.percentile(resampled, [2.5, 97.5])
    ours = bootstrap_interval(ERRORS, resamples=40_000)
    assert ours.estimate == pytest.approx(ERRORS.mean())
    assert (ours.low, ours.high) == pytest.approx(tuple(by_hand), abs=0.1)  # Monte Carlo error, 40k draws


def test_bca_is_efron_and_tibshiranis_from_the_same_bootstrap_distribution() -> None:
    """z0 from the share of resampled means below the estimate (ties counted half, as scipy does: a mean
    of six values ties the estimate often), the acceleration from the jackknife."""
    theirs = bootstrap((ERRORS,), np.mean, n_resamples=5_000, method="BCa", rng=np.random.default_rng(0))
    distribution = theirs.bootstrap_distribution
    z0 = ndtri(
        (np.sum(distribution < ERRORS.mean()) + np.sum(distribution <= ERRORS.mean()))
        / (2 * len(distribution))
    )
    jackknife = np.array([np.delete(ERRORS, i).mean() for i in range(len(ERRORS))])
    deviations = jackknife.mean() - jackknife
    acceleration = (deviations**3).sum() / (6 * ((deviations**2).sum()) ** 1.5)
    bounds = []
    for alpha in (0.025, 0.975):
        z = ndtri(alpha)
        adjusted = ndtr(z0 + (z0 + z) / (1 - acceleration * (z0 + z)))
        bounds.append(np.percentile(distribution, 100 * adjusted))
    ours = bootstrap_interval(ERRORS, method="BCa", resamples=5_000)
    assert (ours.low, ours.high) == pytest.approx(tuple(bounds), rel=1e-9)


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_intervals_stay_inside_the_values_range_where_students_t_does_not(method: str) -> None:
    for values in (ERRORS, ERRORS[:2], np.array([0.0, 0.0, 0.3]), 100 - ERRORS[:3]):
        interval = bootstrap_interval(values, method=method)  # type: ignore[arg-type]
        assert values.min() <= interval.low <= interval.estimate <= interval.high <= values.max()
    t_half_width = 12.706 * ERRORS[:2].std(ddof=1) / math.sqrt(2)
    assert ERRORS[:2].mean() - t_half_width < 0  # Student's t at two seeds: below 0% error


def test_an_interval_is_seeded_and_degenerate_cases_are_plain() -> None:
    assert bootstrap_interval(ERRORS) == bootstrap_interval(ERRORS)
    assert bootstrap_interval(ERRORS, seed=1) != bootstrap_interval(ERRORS, seed=2)
    one = bootstrap_interval([3.0])
    assert one.estimate == 3.0 and math.isnan(one.low) and one.text() == "3.0"
    same = bootstrap_interval([2.0, 2.0, 2.0], method="BCa")
    assert (same.low, same.high) == (2.0, 2.0)
    assert bootstrap_interval([1.0, float("nan"), 3.0]).n == 2
    assert math.isnan(bootstrap_interval([]).estimate) and bootstrap_interval([]).text() == "–"


def test_a_paired_difference_resamples_pairs_together() -> None:
    control = np.array([30.0, 25.0, 35.0, 28.0, 40.0, 22.0])  # seeds differ far more than the methods
    treated = control - np.array([1.0, 1.2, 0.8, 1.1, 0.9, 1.0])
    paired = paired_difference(treated, control)
    assert paired.estimate == pytest.approx(-1.0) and -1.2 <= paired.low < paired.high <= -0.8
    unpaired = bootstrap_interval(treated).estimate - bootstrap_interval(control).estimate
    assert unpaired == pytest.approx(-1.0)  # the same mean, but the seeds' spread would swamp its interval
    with pytest.raises(ValueError, match="paired values must match"):
        paired_difference([1.0, 2.0], [1.0])


def test_the_iqm_is_the_mean_of_the_middle_half() -> None:
    values = np.array([9.0, 1.0, 5.0, 3.0, 100.0, 4.0, 6.0, 2.0])
    middle = np.sort(values)[2:6]
    assert iqm(values) == pytest.approx(middle.mean())
    assert bootstrap_interval(values, statistic="iqm").estimate == pytest.approx(middle.mean())


def test_the_probability_of_improvement_counts_every_pair_and_half_the_ties() -> None:
    ours, theirs = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0])
    pairs = [(a < b) + 0.5 * (a == b) for a, b in itertools.product(ours, theirs)]
    assert probability_of_improvement(ours, theirs) == pytest.approx(sum(pairs) / len(pairs))
    assert probability_of_improvement(theirs, ours, lower_is_better=False) == pytest.approx(
        sum(pairs) / len(pairs)
    )
    assert probability_of_improvement(ours, ours) == 0.5


def test_wilcoxons_exact_p_value_counts_every_sign_assignment() -> None:
    control = np.array([25.0, 25.1, 25.2, 26.9, 26.3, 25.4])
    treated = control + np.array([-0.9, 0.2, -1.4, -0.6, -1.1, 0.3])  # no two of the same size: exact
    differences = treated - control
    ranks = np.argsort(np.argsort(np.abs(differences))) + 1.0
    observed = ranks[differences > 0].sum()
    totals = [sum(r for r, s in zip(ranks, signs) if s) for signs in itertools.product((0, 1), repeat=6)]
    centre = ranks.sum() / 2
    extreme = sum(abs(t - centre) >= abs(observed - centre) for t in totals)
    assert wilcoxon_signed_rank(treated, control) == pytest.approx(extreme / len(totals))
    assert math.isnan(wilcoxon_signed_rank(control, control))
