"""Each search algorithm end to end on a real local Ray: grid, random search with ASHA, and Optuna's TPE."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import cli_in_process
from mlflow.tracking import MlflowClient

from analysis import load_runs

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
