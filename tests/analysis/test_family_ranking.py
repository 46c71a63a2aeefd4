"""The regularisers report's ranking, its published orderings, OpenMixup's numbers beside ours only on
OpenMixup's own setting, and the median of the last 10 epochs read back from the history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.studies._family_ranking import (
    OPENMIXUP_SETTING,
    openmixup_beside,
    published_orderings,
    ranking,
    with_median_last10,
)
from analysis.studies.regularisers import regulariser_table, with_settings


def _runs(**setting: object) -> pd.DataFrame:
    """Three seeds of ERM, mixup and PuzzleMix; PuzzleMix 2 points below mixup, mixup 1 below ERM (error)."""
    rows = []
    for method, alpha, mixing, error in (("ERM", 0.0, "ERM", 30.0), ("mixup", 1.0, "mixup", 29.0),
                                         ("PuzzleMix", 1.0, "PuzzleMix", 27.0)):  # fmt: skip
        for seed in range(3):
            noise = [0.1, -0.2, 0.15][seed]
            rows.append(
                {
                    **OPENMIXUP_SETTING,
                    "epochs": 200,
                    **setting,
                    "alpha": alpha,
                    "mixing": mixing,
                    "seed": seed,
                    "status": "FINISHED",
                    "diverged": False,
                    "last_test_error": error + noise,
                    "best_test_error": error - 1,
                    "test_ece": 5.0,
                    "test_error_median_last10": error + noise + 0.05,
                    "run_id": f"{method}-{seed}",
                }
            )
    return pd.DataFrame(rows)


def test_the_ranking_sorts_by_error_beside_paired_differences_marked_where_clear() -> None:
    table = regulariser_table(_runs())
    ranked = ranking(table)
    assert list(ranked["method"]) == ["PuzzleMix", "mixup", "ERM"]
    assert ranked.loc[0, "- ERM"].startswith("-3.00") and ranked.loc[0, "- ERM"].endswith("*")
    assert ranked.loc[2, "- ERM"] == "–"
    with_tests = ranking(table, with_settings(_runs()))
    puzzle = with_tests[with_tests["method"] == "PuzzleMix"].iloc[0]
    assert puzzle["P(better than ERM)"] == "1.00"  # 27 against 30, every pair of runs
    assert puzzle["Wilcoxon p vs ERM"] == "0.250"  # three seeds, all one way: the least exact p, 2 / 8


def test_the_published_orderings_hold_or_are_reversed_by_the_paired_difference() -> None:
    table = regulariser_table(_runs())
    orderings, tau = published_orderings(table)
    verdicts = dict(
        zip(orderings["ordering"], orderings["here (last test error minus, paired, 95% interval)"])
    )
    assert verdicts["PuzzleMix above ERM"].startswith("holds")
    assert verdicts["mixup above ERM"].startswith("holds")
    assert "+1.00" in tau  # the same order as OpenMixup's for these three
    flipped = _runs()
    flipped.loc[flipped["mixing"] == "PuzzleMix", "last_test_error"] += 5  # now worse than ERM
    verdicts = dict(zip(*published_orderings(regulariser_table(flipped))[0].iloc[:, [0, 2]].T.values))
    assert verdicts["PuzzleMix above ERM"].startswith("reversed")


def test_openmixups_numbers_sit_beside_ours_only_on_its_setting_epochs_and_alpha() -> None:
    beside = openmixup_beside(with_settings(_runs()))
    assert set(beside["method"]) == {"ERM", "mixup", "PuzzleMix"} and set(beside["epochs"]) == {200}
    puzzle = beside[beside["method"] == "PuzzleMix"].iloc[0]
    assert puzzle["OpenMixup (one run)"] == "79.96" and puzzle[
        "ours: median of the last 10 epochs, top-1 %"
    ].startswith("72.93 [")
    for other in ({"model": "preact_resnet18"}, {"batch_size": 128}, {"epochs": 300}, {"label_noise": 0.4}):
        assert openmixup_beside(with_settings(_runs(**other))).empty, other
    mixup_at_two = _runs()
    mixup_at_two.loc[mixup_at_two["mixing"] == "mixup", "alpha"] = 2.0  # OpenMixup ran mixup at 1
    assert "mixup" not in set(openmixup_beside(with_settings(mixup_at_two))["method"])


def test_the_median_of_the_last_10_epochs_is_read_from_the_history_where_a_run_did_not_report_it() -> None:
    runs = _runs().drop(columns="test_error_median_last10")
    errors = {run_id: list(np.arange(15.0)) for run_id in runs["run_id"]}  # epochs 1..15: errors 0..14

    def history(run_ids: list[str], metrics: tuple[str, ...]) -> pd.DataFrame:
        assert metrics == ("test_error",)
        return pd.DataFrame(
            [{"run_id": r, "epoch": e + 1, "test_error": errors[r][e]} for r in run_ids for e in range(15)]
        )

    filled = with_median_last10(runs, history)
    assert filled["test_error_median_last10"].tolist() == pytest.approx([9.5] * len(runs))  # median of 5..14
    reported = _runs()
    assert with_median_last10(reported, history) is reported
