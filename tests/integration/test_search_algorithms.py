"""Each search algorithm end to end on a real local Ray: grid, random search with ASHA, and Optuna's TPE."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import cli_in_process
from mlflow.tracking import MlflowClient

from analysis import load_runs
from mixup_tune.records import tags
from mixup_tune.selection import DEFAULT_VAL_FRACTION

pytestmark = pytest.mark.integration

BASE = (
    "trainable: {dataset: digits, model: mlp, hidden_sizes: [32], epochs: 9, batch_size: 128}\n"
    "resources: {cpu: 1, gpu: 0}\n"
)
SPECS = {
    "random-asha": "search: {alpha: {uniform: [0, 2]}, label_noise: [0, 0.6]}\n"
    "tune: {algorithm: random, num_samples: 3, scheduler: asha, grace_period: 1, reduction_factor: 3, seed: "
    "1}\n",
    "optuna": "search: {alpha: {loguniform: [0.1, 4]}, optimizer.lr: {uniform: [0.01, 0.2]}, seed: [0, 1]}\n"
    "tune: {algorithm: optuna, num_samples: 4, seed: 3}\n",
}


@pytest.mark.parametrize("algorithm", SPECS)
def test_search_algorithm(algorithm: str, tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(f"name: {algorithm}\n{BASE}{SPECS[algorithm]}")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = cli_in_process("run", "spec.yaml", "--tracking-uri", uri, "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = load_runs(algorithm, uri)
    assert (runs["status"] == "FINISHED").all()
    client = MlflowClient(uri)
    epochs = [len(client.get_metric_history(run_id, "test_error")) for run_id in runs["run_id"]]
    if algorithm == "random-asha":
        assert len(runs) == 6 and set(runs["label_noise"]) == {0.0, 0.6}
        assert runs["alpha"].between(0, 2).all() and runs["alpha"].nunique() == 6
        assert max(epochs) == 9 and min(epochs) < 9, "ASHA stops the worst trials early"
    else:
        assert len(runs) == 4 and set(runs["seed"]) <= {0, 1}
        assert runs["alpha"].between(0.1, 4).all() and runs["optimizer.lr"].between(0.01, 0.2).all()
        assert epochs == [9] * 4
        assert_optuna_chose_on_validation(algorithm, uri, tmp_path, runs)


def assert_optuna_chose_on_validation(name: str, uri: str, folder: Path, runs: pd.DataFrame) -> None:
    """A default Optuna sweep (no tune.metric) optimises val_error on a held-out split: the study's values
    are the trials' last val_error, not their test error, and the parent says what was chosen on."""
    import optuna

    assert (runs["val_fraction"] == DEFAULT_VAL_FRACTION).all()
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{folder / 'optuna.db'}")
    chosen = sorted(trial.value for trial in study.trials if trial.value is not None)
    assert len(chosen) == 4
    assert chosen == pytest.approx(sorted(runs["val_error"])), "Optuna was shown val_error"
    assert chosen != pytest.approx(sorted(runs["test_error"]))
    client = MlflowClient(uri)
    parent = client.get_run(client.get_run(runs["run_id"].iloc[0]).data.tags[tags.PARENT_RUN])
    assert parent.data.tags[tags.SELECTION].startswith("val_error (min); chooser: Optuna; validation split")
