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
        columns.update({f"{metric}_mean": mean, f"{metric}_std": std, f"{metric}_n": n, f"{metric}_ci95": t * std / np.sqrt(n)})
    return pd.DataFrame(columns).reset_index()
