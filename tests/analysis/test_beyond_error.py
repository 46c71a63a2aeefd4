"""The study sections beyond test error (analysis.studies._beyond_error), on runs made up to a known
answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.studies._beyond_error import (
    beyond_error_table,
    corruption_table,
    ranking_change,
    sections,
    severity_table,
)

METHODS = ("ERM", "mixup", "CutMix", "label smoothing")
CORRUPTIONS = ("fog", "contrast", "gaussian_noise")


def _runs(with_extras: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for noise in (0.0, 0.4):
        for rank, method in enumerate(METHODS):
            for seed in range(3):
                error = 10 + 2 * rank + 20 * noise + rng.normal(0, 0.3)
                row = {"setting": method, "label_noise": noise, "seed": seed, "last_test_error": error}
                if with_extras:
                    # ECE ordered one way before scaling, the other way after: scaling reverses the ranking
                    row |= {
                        "test_ece": 2.0 + rank + rng.normal(0, 0.05),
                        "test_ece_scaled": 6.0 - rank + rng.normal(0, 0.05),
                        "log_temperature": -0.1 * rank,
                        "corruption_clean_error": error,
                        "corruption_error": error + 5 + rank,
                        "corruption_error_drop": 5.0 + rank,
                        "ood/noise/msp_auroc": 99.0 - rank,
                    }
                    for k, name in enumerate(CORRUPTIONS):
                        row[f"corruption/{name}_error"] = error + k + rank
                        for severity in (1, 2):
                            row[f"corruption/{name}/{severity}_error"] = error + k + rank + 2 * severity
                rows.append(row)
    return pd.DataFrame(rows)


def test_the_sections_carry_calibration_corruptions_ood_and_their_figures(tmp_path: Path) -> None:
    runs = _runs()
    table = beyond_error_table(runs, METHODS.index)
    assert list(table[table["label_noise"] == 0]["setting"]) == list(METHODS)
    for metric in ("test_ece_scaled", "corruption_error", "ood/noise/msp_auroc"):
        assert (table[f"{metric}_low"] <= table[f"{metric}_mean"]).all()
        assert (table[f"{metric}_low"] >= 0).all() and (table[f"{metric}_high"] <= 100).all()
    texts, files = sections(runs, table, tmp_path, "study")
    markdown = "\n\n".join(texts)
    assert "ECE, scaled" in markdown and "noise: MSP AUROC" in markdown and "drop from clean" in markdown
    assert "Kendall's tau -1.00" in markdown  # the reversal made up above
    names = {path.name for path in files}
    assert {"study_main.png", "study_main.pdf", "study_cd.png", "study_cd.pdf"} <= names
    assert all(path.stat().st_size > 5_000 for path in files)


def test_each_corruption_is_a_column_at_the_lowest_noise_rate() -> None:
    table = corruption_table(_runs())
    assert list(table.columns) == ["method", "clean", "contrast", "fog", "gaussian_noise"]
    erm = table[table["method"] == "ERM"].iloc[0]
    assert erm["fog"] < erm["contrast"] < erm["gaussian_noise"]  # k = 0, 1, 2 above


def test_a_sweep_that_measured_none_of_it_says_so(tmp_path: Path) -> None:
    runs = _runs(with_extras=False)
    texts, files = sections(runs, beyond_error_table(runs, METHODS.index), tmp_path, "study")
    assert files == [] and "Not measured by this sweep" in texts[1]


def test_the_ranking_change_names_the_methods_that_moved() -> None:
    table = beyond_error_table(_runs(), METHODS.index)
    text = ranking_change(table[table["label_noise"] == 0])
    assert "lowest ECE before: ERM, mixup, CutMix; after: label smoothing, CutMix, mixup" in text
    assert "ERM 1 -> 4" in text and "label smoothing 4 -> 1" in text


def test_each_severity_is_a_column_averaged_over_the_corruptions() -> None:
    table = severity_table(_runs(), METHODS.index)
    assert list(table.columns) == ["method", "clean", "severity 1", "severity 2"]
    assert list(table["method"]) == list(METHODS)
    # corruption k at severity s adds k + rank + 2 s: the mean over k = 0, 1, 2 adds 1 + rank + 2 s
    difference = table["severity 2"] - table["severity 1"]
    assert difference.round(6).tolist() == [2.0] * len(METHODS)
