"""``mixup_tune.mlflow_internals.stores`` against MLflow's public API as the oracle, on a real sqlite store:
the bulk metric history against ``get_metric_history``, the metric names against what ``log_batch`` takes,
and a dataset input's source type and context against what ``mlflow.log_input`` records."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from mixup_tune.mlflow_internals import DATASET_CONTEXT_TAG, bulk_metric_history, metric_name_ok, source_type
from mixup_tune.records.lineage import dataset_input


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> MlflowClient:
    """One store for the module: MLflow migrates a new sqlite store for 2 to 3 s."""
    return MlflowClient(f"sqlite:///{tmp_path_factory.mktemp('stores') / 'mlflow.db'}")


def test_the_bulk_history_is_every_point_of_get_metric_history(client: MlflowClient) -> None:
    experiment = client.create_experiment("bulk")
    runs = [client.create_run(experiment).info.run_id for _ in range(3)]
    for index, run_id in enumerate(runs):
        points = [Metric("test_error", 50.0 - step * index, 1000 + step, step) for step in range(1, 6)]
        client.log_batch(run_id, metrics=[*points, Metric("test_error", float("nan"), 2000, 6)])
    bulk = bulk_metric_history(client)
    assert bulk is not None, "a sqlite store has MLflow's bulk history"
    got = sorted((p.run_id, p.step, p.timestamp, repr(p.value)) for p in bulk(runs, "test_error", 10**6))
    expected = sorted(
        (run_id, p.step, p.timestamp, repr(p.value))
        for run_id in runs
        for p in client.get_metric_history(run_id, "test_error")
    )
    assert got == expected and len(got) == 18


def test_a_tracking_servers_client_has_no_bulk_history() -> None:
    assert bulk_metric_history(MlflowClient("http://127.0.0.1:9")) is None  # nothing is sent to it


@pytest.mark.parametrize(
    "name",
    ["test_brier", "system/epoch_s", "metric/my score", "a.b-c", "x" * 250, "bad name?", "../up", "x" * 251],
)
def test_a_metric_name_is_ok_exactly_when_log_batch_takes_it(client: MlflowClient, name: str) -> None:
    experiment = client.get_experiment_by_name("names") or client.get_experiment(
        client.create_experiment("names")
    )
    run_id = client.create_run(experiment.experiment_id).info.run_id
    try:
        client.log_batch(run_id, metrics=[Metric(name, 1.0, 1000, 1)])
        taken = True
    except MlflowException:
        taken = False
    assert metric_name_ok(name) == taken


def test_a_dataset_input_is_recorded_as_mlflow_log_input_records_one(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run() as run:
            source = str(tmp_path / "digits.npz")
            dataset = mlflow.data.from_pandas(pd.DataFrame({"x": [1.0]}), source=source, name="digits")
            mlflow.log_input(dataset, context="train")
    finally:
        mlflow.set_tracking_uri(None)
    logged = MlflowClient(uri).get_run(run.info.run_id).inputs.dataset_inputs[0]
    ours = dataset_input(
        {"dataset": "digits", "dataset_source": source, "dataset_digest": "0" * 16, "dataset_classes": 10}
    )
    assert ours.dataset.source_type == logged.dataset.source_type == "local"
    assert source_type(mlflow.data.sources.LocalArtifactDatasetSource(source)) == "local"  # type: ignore[attr-defined]
    assert [(t.key, t.value) for t in logged.tags] == [(DATASET_CONTEXT_TAG, "train")]
    assert (DATASET_CONTEXT_TAG, "train") in [(t.key, t.value) for t in ours.tags]
