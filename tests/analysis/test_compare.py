"""The comparison every sweep gets (``analysis.compare``): the table over seeds, Optuna's importance and
figures from an in-memory study of the runs, and options that runs at their default do not log."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from analysis.compare import compare
from analysis.runs import load_runs, varying_options
from mixup_tune.records import tags


def _runs(seeds: int = 3) -> pd.DataFrame:
    """A sweep in which alpha decides the error, the mixing method a little, and the seed only noise."""
    noise = np.random.default_rng(0)
    rows = []
    for alpha in (0.0, 0.5, 1.0, 2.0):
        for method in ("mixup", "cutmix"):
            for seed in range(seeds):
                error = 30 - 8 * alpha + (0.5 if method == "cutmix" else 0.0) + noise.normal(0, 0.1)
                rows.append(
                    {
                        "status": "FINISHED",
                        "diverged": False,
                        "alpha": alpha,
                        "mix_method": method,
                        "seed": seed,
                    }
                    | {"test_error": error, "hidden_sizes": (32,)}
                )
    rows.append({**rows[0], "status": "FAILED", "test_error": 99.0, "seed": 7})  # left out
    rows.append({**rows[0], "diverged": True, "test_error": 99.0, "seed": 8})  # left out
    return pd.DataFrame(rows)


def test_the_table_has_one_row_per_setting_over_its_seeds_best_first(tmp_path: Path) -> None:
    runs = _runs()
    files, markdown = compare(runs, "test_error", "min", tmp_path)
    table = pd.read_csv(tmp_path / "comparison_by_setting.csv")
    assert len(table) == 8 and set(table["test_error_n"]) == {3}
    usable = runs[(runs["status"] == "FINISHED") & ~runs["diverged"]]
    expected = usable.groupby(["alpha", "mix_method"])["test_error"].mean()
    for _, row in table.iterrows():
        assert row["test_error_mean"] == pytest.approx(expected[(row["alpha"], row["mix_method"])], abs=1e-4)
    assert list(table["test_error_mean"]) == sorted(table["test_error_mean"])  # min: best first
    (best,) = table.head(1).itertuples()
    assert (best.alpha, best.mix_method) == (2.0, "mixup")
    maximised = pd.read_csv(compare(runs, "test_error", "max", tmp_path / "max")[0][0])
    assert (maximised.iloc[0]["alpha"], maximised.iloc[0]["mix_method"]) == (0.0, "cutmix")
    assert "## Comparison" in markdown and "![importance](comparison_importance.png)" in markdown
    assert {path.name for path in files} >= {
        "comparison_parallel_coordinates.png",
        "comparison_importance.png",
        "comparison_importance.csv",
    }


def test_importance_is_optunas_and_ranks_the_option_that_decides_the_error_first(tmp_path: Path) -> None:
    import optuna

    compare(_runs(), "test_error", "min", tmp_path)
    importance = pd.read_csv(tmp_path / "comparison_importance.csv").set_index("option")["importance"]
    assert list(importance.index) == ["alpha", "mix_method"] and importance["alpha"] > 0.9  # no seed
    assert sum(importance) == pytest.approx(1, abs=1e-3)
    # the same numbers as Optuna's fANOVA on a study built by hand from the same runs
    usable = _runs().iloc[:-2]
    study = optuna.create_study()
    distributions = {
        "alpha": optuna.distributions.FloatDistribution(0.0, 2.0),
        "mix_method": optuna.distributions.CategoricalDistribution(["cutmix", "mixup"]),
    }
    for row in usable.itertuples():
        params = {"alpha": row.alpha, "mix_method": row.mix_method}
        study.add_trial(
            optuna.trial.create_trial(params=params, distributions=distributions, value=row.test_error)
        )
    oracle = optuna.importance.get_param_importances(
        study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
    )
    assert {k: round(v, 4) for k, v in oracle.items()} == pytest.approx(
        importance.round(4).to_dict(), abs=2e-4
    )


def test_the_same_runs_give_the_same_bytes(tmp_path: Path) -> None:
    first, _ = compare(_runs(), "test_error", "min", tmp_path / "a")
    second, _ = compare(_runs(), "test_error", "min", tmp_path / "b")
    assert [path.read_bytes() for path in first] == [path.read_bytes() for path in second]


def test_a_second_call_in_one_process_draws_what_the_first_did(tmp_path: Path) -> None:
    """Optuna's importance plot sets the ggplot style for the whole process: once, the first comparison in a
    process had plain parallel coordinates and every later one ggplot's grey (two `analyze` calls in one
    process gave different PNGs). The style is put back after each call."""
    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # as a fresh process starts (the backend is kept)
        defaults = dict(matplotlib.rcParams)
        first, _ = compare(_runs(), "test_error", "min", tmp_path / "a")
        assert dict(matplotlib.rcParams) == defaults, "the process's style is left as it was"
        second, _ = compare(_runs(), "test_error", "min", tmp_path / "b")
    assert [path.read_bytes() for path in first] == [path.read_bytes() for path in second]


def test_a_sweep_over_seeds_alone_gets_one_row_and_no_importance(tmp_path: Path) -> None:
    runs = _runs()
    runs = runs[(runs["alpha"] == 1.0) & (runs["mix_method"] == "mixup")]
    files, _ = compare(runs, "test_error", "min", tmp_path)
    assert len(pd.read_csv(tmp_path / "comparison_by_setting.csv")) == 1
    assert "comparison_importance.csv" not in {path.name for path in files}
    assert compare(runs.head(1), "test_error", "min", tmp_path / "one") == ([], "")  # nothing varies


def test_an_option_runs_at_its_default_do_not_log_is_read_back_as_that_default(tmp_path: Path) -> None:
    # label_smoothing is left out of a trial's params at 0 (trainables.config: options added later)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("defaults")
    for index, smoothing in enumerate([None, "0.1"]):
        run = client.create_run(
            experiment, tags={tags.SWEEP: "s", tags.ROLE: "trial", tags.TRIAL_ID: str(index)}
        )
        client.log_param(run.info.run_id, "alpha", "1.0")
        if smoothing is not None:
            client.log_param(run.info.run_id, "label_smoothing", smoothing)
    runs = load_runs("s", uri)
    assert sorted(runs["label_smoothing"]) == [0.0, 0.1]
    assert varying_options(runs) == ["label_smoothing"]


def test_seeds_and_data_conditions_are_never_ranked_and_a_variants_design_gets_no_importance(
    tmp_path: Path,
) -> None:
    noisy = pd.concat([_runs().assign(label_noise=rate) for rate in (0.0, 0.4)], ignore_index=True)
    noisy.loc[noisy["label_noise"] > 0, "test_error"] += 30  # the data condition dominates the error
    _, markdown = compare(noisy, "test_error", "min", tmp_path / "noisy")
    importance = pd.read_csv(tmp_path / "noisy" / "comparison_importance.csv")
    assert set(importance["option"]) == {"alpha", "mix_method"}
    assert "hyperparameters at label_noise=0.0" in markdown
    table = pd.read_csv(tmp_path / "noisy" / "comparison_by_setting.csv")
    assert set(table[table["alpha"] == 0]["method"]) == {"ERM"}  # not "mixup" at alpha 0
    assert set(table[table["alpha"] > 0]["method"]) == {"mixup", "CutMix"}
    # variants: ERM, mixup at alpha 1, CutMix at alpha 1 and mixup at 2 are not every (alpha, method)
    runs = _runs()
    variants = runs[(runs["alpha"] != 0.5) & ~((runs["alpha"] == 2.0) & (runs["mix_method"] == "cutmix"))]
    variants = variants[~((variants["alpha"] == 0) & (variants["mix_method"] == "cutmix"))]
    files, markdown = compare(variants, "test_error", "min", tmp_path / "variants")
    assert "No importance: the settings are not a product" in markdown
    assert "comparison_importance.png" not in {path.name for path in files}
    assert "comparison_parallel_coordinates.png" in {path.name for path in files}
