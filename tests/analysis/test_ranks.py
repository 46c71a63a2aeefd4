"""Average ranks, Friedman's test and the Nemenyi critical difference against Demšar (2006): his
formula for the statistic, his table of critical values and his worked example's numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.ranks import average_ranks, friedman, nemenyi_critical_difference

# Demšar (2006), Table 5(a): q_0.05 for the two-tailed Nemenyi test, k = 2 .. 10 methods
DEMSAR_Q05 = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102, 10: 3.164}


@pytest.mark.parametrize("methods", sorted(DEMSAR_Q05))
def test_the_critical_difference_uses_demsars_critical_values(methods: int) -> None:
    rows = 14
    expected = DEMSAR_Q05[methods] * math.sqrt(methods * (methods + 1) / (6 * rows))
    assert nemenyi_critical_difference(methods, rows) == pytest.approx(expected, abs=2e-3)


def test_demsars_example_four_methods_on_fourteen_datasets_needs_a_gap_of_1_25() -> None:
    assert nemenyi_critical_difference(4, 14) == pytest.approx(1.25, abs=0.005)


def test_friedmans_statistic_is_demsars_formula_on_untied_ranks() -> None:
    rng = np.random.default_rng(0)
    scores = pd.DataFrame(rng.normal(size=(12, 5)) + np.arange(5), columns=list("abcde"))
    ranks = scores.rank(axis=1)
    n, k = scores.shape
    chi2 = 12 * n / (k * (k + 1)) * ((ranks.mean() ** 2).sum() - k * (k + 1) ** 2 / 4)
    statistic, p = friedman(scores)
    assert statistic == pytest.approx(chi2, rel=1e-12) and p < 0.01


def test_average_ranks_put_the_best_first_and_share_ties() -> None:
    scores = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [2.0, 2.0, 1.0], "c": [3.0, 1.0, 2.0]})
    ranks = average_ranks(scores)
    assert ranks.to_dict() == pytest.approx({"a": (1 + 2.5 + 3) / 3, "b": (2 + 2.5 + 1) / 3, "c": 2.0})
    assert list(average_ranks(scores, lower_is_better=False).index)[0] == "a"
    assert all(math.isnan(v) for v in friedman(scores.iloc[:1]))
