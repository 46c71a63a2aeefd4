"""Seed statistics that stay inside a metric's range, each from a seeded generator: bootstrap intervals
(percentile or BCa) of a mean, an interquartile mean or a paired difference; the interquartile mean; the
probability of improvement; and Wilcoxon's signed-rank test for paired seeds.

A Student-t interval of a mean of errors can run below 0% with two or three seeds (mean ± t s / sqrt(n)
with t = 12.7 at n = 2); a bootstrap interval is made of resampled means of the values themselves, so it
stays within their range. The resampling is scipy's (``scipy.stats.bootstrap``), the interquartile mean
rliable's definition (Agarwal et al., 2021: the mean of the middle 50%, ``scipy.stats.trim_mean``), and
the probability of improvement theirs too: P(X better than Y) + P(X = Y) / 2, over all pairs of runs.
``tests/analysis/test_bootstrap.py`` holds each to a textbook computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Method = Literal["percentile", "BCa"]
Statistic = Literal["mean", "iqm"]
RESAMPLES = 10_000
SEED = 0  # every interval's generator: the same runs give the same interval


@dataclass(frozen=True)
class Interval:
    """An estimate and its interval over ``n`` values (NaN bounds below two values)."""

    estimate: float
    low: float
    high: float
    n: int

    def text(self, digits: int = 1) -> str:
        """``estimate [low, high]``, or the estimate alone without an interval."""
        if np.isnan(self.estimate):
            return "–"
        if np.isnan(self.low):
            return f"{self.estimate:.{digits}f}"
        return f"{self.estimate:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def iqm(values: Sequence[float] | np.ndarray) -> float:
    """The interquartile mean: the mean of the middle half of the values (25% trimmed from each end)."""
    from scipy.stats import trim_mean  # here: scipy.stats costs 0.4 s of imports

    clean = _finite(values)
    return float(trim_mean(clean, 0.25)) if len(clean) else float("nan")


def bootstrap_interval(
    values: Sequence[float] | np.ndarray,
    statistic: Statistic = "mean",
    method: Method = "percentile",
    level: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Interval:
    """The ``statistic`` of the finite ``values`` and its bootstrap interval, resampled from a generator
    seeded with ``seed``. Equal values give a zero-width interval (BCa's acceleration is undefined there)."""
    clean = _finite(values)
    estimate = _statistic(statistic)(clean) if len(clean) else float("nan")
    if len(clean) < 2:
        return Interval(estimate, float("nan"), float("nan"), len(clean))
    if np.ptp(clean) == 0:
        return Interval(estimate, estimate, estimate, len(clean))
    from scipy.stats import bootstrap

    result = bootstrap(
        (clean,),
        _statistic(statistic, axis=True),
        confidence_level=level,
        n_resamples=resamples,
        method=method,
        rng=np.random.default_rng(seed),
        vectorized=True,
    )
    low, high = result.confidence_interval
    return Interval(estimate, float(low), float(high), len(clean))


def paired_difference(
    treated: Sequence[float] | np.ndarray,
    control: Sequence[float] | np.ndarray,
    method: Method = "percentile",
    level: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Interval:
    """The mean of (treated - control) over pairs (the same seed, data order and initialisation) and its
    bootstrap interval: the pairs are resampled together. Pairs with a missing side are left out."""
    a, b = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values must match: {a.shape} against {b.shape}")
    return bootstrap_interval(a - b, "mean", method, level, resamples, seed)


def probability_of_improvement(
    values: Sequence[float] | np.ndarray, others: Sequence[float] | np.ndarray, lower_is_better: bool = True
) -> float:
    """P(a run of ``values`` is better than a run of ``others``) + half the probability of a tie, over all
    pairs (the Mann-Whitney U statistic over n m); errors are better lower."""
    x, y = _finite(values), _finite(others)
    if not len(x) or not len(y):
        return float("nan")
    better = (x[:, None] < y[None, :]) if lower_is_better else (x[:, None] > y[None, :])
    ties = x[:, None] == y[None, :]
    return float((better.sum() + 0.5 * ties.sum()) / (len(x) * len(y)))


def wilcoxon_signed_rank(
    treated: Sequence[float] | np.ndarray, control: Sequence[float] | np.ndarray
) -> float:
    """The two-sided p-value of Wilcoxon's signed-rank test of paired values (exact below 50 pairs whose
    differences do not tie in size, else scipy's normal approximation; pairs that do not differ are left
    out, Wilcoxon's own rule). NaN when no pair differs."""
    from scipy.stats import wilcoxon

    a, b = np.asarray(treated, dtype=float), np.asarray(control, dtype=float)
    keep = np.isfinite(a) & np.isfinite(b)
    differences = a[keep] - b[keep]
    differences = differences[differences != 0]
    if not len(differences):
        return float("nan")
    return float(wilcoxon(differences, zero_method="wilcox", alternative="two-sided", method="auto").pvalue)


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float).ravel()
    return array[np.isfinite(array)]


def _statistic(name: Statistic, axis: bool = False):  # type: ignore[no-untyped-def]
    from scipy.stats import trim_mean

    if name == "mean":
        return (lambda x, axis=-1: np.mean(x, axis=axis)) if axis else (lambda x: float(np.mean(x)))
    if name == "iqm":
        return (
            (lambda x, axis=-1: trim_mean(x, 0.25, axis=axis))
            if axis
            else (lambda x: float(trim_mean(x, 0.25)))
        )
    raise ValueError(f"unknown statistic {name!r}: mean or iqm")


__all__ = [
    "Interval",
    "bootstrap_interval",
    "iqm",
    "paired_difference",
    "probability_of_improvement",
    "wilcoxon_signed_rank",
]
