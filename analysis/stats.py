"""Seed statistics: mean, standard deviation, count and a 95% confidence half-width."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import stdtrit  # Student's t quantile; scipy.stats would add 0.4 s of imports


def seed_stats(runs: pd.DataFrame, by: list[str], metrics: list[str]) -> pd.DataFrame:
    """Aggregate over everything not in ``by`` (the seeds): ``<metric>_mean``, ``_std``, ``_n``, ``_ci95``.

    NaN values (a metric a trial never reached) are left out of the count.
    The confidence half-width uses Student's t with n - 1 degrees of freedom.
    """
    grouped = runs.groupby(by, dropna=False)
    columns = {}
    for metric in metrics:
        column = grouped[metric]
        mean, std, n = column.mean(), column.std(ddof=1), column.count()
        t = pd.Series(np.where(n > 1, stdtrit(np.maximum(n - 1, 1), 0.975), np.nan), index=n.index)
        columns.update(
            {
                f"{metric}_mean": mean,
                f"{metric}_std": std,
                f"{metric}_n": n,
                f"{metric}_ci95": t * std / np.sqrt(n),
            }
        )
    return pd.DataFrame(columns).reset_index()


def mean_ci95(values: pd.Series) -> tuple[float, float, int]:
    """Mean, 95% confidence half-width (Student's t, NaN below two values) and count of the non-NaN values.

    For paired differences (one per seed) this is the paired t interval.
    """
    values = values.dropna()
    n = len(values)
    if n == 0:
        return float("nan"), float("nan"), 0
    half_width = float(stdtrit(n - 1, 0.975) * values.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return float(values.mean()), half_width, n


def paired_by_seed(
    runs: pd.DataFrame, column: str, treated: object, control: object, metric: str
) -> tuple[float, float, int]:
    """``mean_ci95`` of (treated - control) in ``metric``, paired by seed: runs whose ``column`` is each
    value.

    NaN and 0 seeds when either side has no run. ``runs`` holds one setting apart from ``column`` and the
    seed.
    """
    by_seed = runs.pivot_table(index="seed", columns=column, values=metric, aggfunc="mean")
    if treated not in by_seed or control not in by_seed:
        return float("nan"), float("nan"), 0
    return mean_ci95(by_seed[treated] - by_seed[control])
