"""Comparing methods across datasets (Demšar, 2006): each method's average rank, Friedman's test that the
ranks differ, and the Nemenyi critical difference, the least gap in average rank that is significant.

``scores`` is a table with one row per dataset (or setting) and one column per method, each cell the
method's metric there (its mean over seeds). Ranks are 1 for the best; ties share their mean rank.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def average_ranks(scores: pd.DataFrame, lower_is_better: bool = True) -> pd.Series:
    """Each method's rank averaged over the rows (1: best), best first."""
    ranked = scores.rank(axis=1, method="average", ascending=lower_is_better)
    return ranked.mean(axis=0).sort_values()


def friedman(scores: pd.DataFrame) -> tuple[float, float]:
    """Friedman's chi-square statistic and p-value over the rows (scipy's, corrected for ties); NaN below
    two rows or three methods, where it is not defined."""
    complete = scores.dropna()
    if len(complete) < 2 or complete.shape[1] < 3:
        return math.nan, math.nan
    from scipy.stats import friedmanchisquare

    result = friedmanchisquare(*(complete[column].to_numpy() for column in complete.columns))
    return float(result.statistic), float(result.pvalue)


def nemenyi_critical_difference(methods: int, rows: int, alpha: float = 0.05) -> float:
    """q_alpha sqrt(k (k + 1) / (6 N)): q_alpha the studentized range's 1 - alpha quantile for k methods
    and infinite degrees of freedom, over sqrt(2) (Demšar's Table 5)."""
    from scipy.stats import studentized_range

    q = float(studentized_range.ppf(1 - alpha, methods, np.inf)) / math.sqrt(2)
    return q * math.sqrt(methods * (methods + 1) / (6 * rows))


__all__ = ["average_ranks", "friedman", "nemenyi_critical_difference"]
