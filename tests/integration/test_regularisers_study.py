"""A tiny regularisers sweep through `mixup-tune run` and `analyze`: every method of
sweeps/regularisers-small.yaml, on digits, read back into its tables and reliability diagrams."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import REPO, run_and_analyze
from mlflow.tracking import MlflowClient

from analysis.studies.regularisers import METHODS

pytestmark = pytest.mark.integration


def test_a_tiny_regularisers_sweep_regenerates_its_tables_and_reliability_diagrams(tmp_path: Path) -> None:
    spec = yaml.safe_load((REPO / "sweeps" / "regularisers-small.yaml").read_text())
    spec["name"] = "regularisers-tiny"
    spec["trainable"] = {**spec["trainable"], "dataset": "digits", "epochs": 2}
    del spec["trainable"]["train_subset"], spec["trainable"]["test_subset"]
    # the first seven methods, and of the family the one that needs the model and the one with its own
    # loss (each method alone: tests/trainables/test_family.py and the others)
    family = {"puzzlemix", "augmix"}
    spec["variants"] = [
        {**v, "cutout": 4} if "cutout" in v else v  # 8x8 images
        for v in spec["variants"]
        if "mix" not in v or v["mix"]["method"] in family
    ]
    spec["variants"].append({"alpha": 0.4})  # mixup at a second strength: a row of its own, and a curve
    spec["search"] = {"label_noise": [0.4], "seed": [0, 1]}
    # digits are feature vectors: no corruptions, but the validation split's temperature scaling and a
    # noise set as out-of-distribution data
    spec["evaluation"] = {"ood": ["noise"], "ood_images": 200}
    uri = run_and_analyze(tmp_path, yaml.safe_dump(spec))

    table = pd.read_csv(tmp_path / "out" / "regularisers.csv")
    expected = ["ERM", "mixup", *METHODS[1:7], "PuzzleMix", "AugMix"]
    assert list(table["method"]) == expected, "one row per method, in order"
    assert list(table["setting"][1:3]) == ["mixup (0.4)", "mixup (1)"], "a row per strength"
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("mixup-regularisers")
    runs = client.search_runs([experiment.experiment_id], "tags.`mixup_tune.role` = 'trial'")
    assert len(runs) == 20
    plain = lambda run: (
        run.data.params["alpha"] == "0.0" and not {"label_smoothing", "cutout"} & set(run.data.params)
    )
    erm = [run.data.metrics["test_ece"] for run in runs if plain(run)]
    assert len(erm) == 2, "two seeds"
    assert table.loc[table["method"] == "ERM", "test_ece_mean"].item() == pytest.approx(
        sum(erm) / len(erm), abs=1e-3
    )
    mixup = table[table["setting"] == "mixup (1)"].iloc[0]
    assert pd.isna(mixup["last_test_error_minus_mixup"]) and pd.notna(mixup["last_test_error_minus_ERM"])
    report = (tmp_path / "out" / "report.md").read_text()
    assert "### Label noise 40%" in report and "### The published claims, on this data" in report
    assert "### Ranking, label noise 40%" in report and "### The published orderings" in report
    assert "not comparable" in report and "![reliability diagrams](reliability.png)" in report
    assert (tmp_path / "out" / "reliability.png").stat().st_size > 10_000
    assert (
        "![error against strength](strength.png)" in report and (tmp_path / "out" / "strength.png").exists()
    )
    beyond = pd.read_csv(tmp_path / "out" / "regularisers_beyond_error.csv")
    assert (
        beyond["test_ece_scaled_mean"].between(0, 100).all() and beyond["log_temperature_mean"].notna().all()
    )
    assert beyond["ood/noise/msp_auroc_mean"].between(0, 100).all()
    assert "ECE, scaled" in report and "Ranked by ECE, temperature scaling" in report
    assert (tmp_path / "out" / "regularisers_main.png").stat().st_size > 10_000
