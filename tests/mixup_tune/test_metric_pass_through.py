"""Every metric a trainable reports reaches MLflow by its own name, without an edit to ``records``.

Once a metric was logged only if ``records/names.py`` listed it: a new one was silently dropped. Now every
numeric key of a result is a metric, except the project's bookkeeping and the keys Ray adds to every result.
Driven through the sweep callback's hooks, against a real sqlite store (as test_tracking_batches.py).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from mlflow.tracking import MlflowClient
from ray.tune import result as ray_result

from mixup_tune.records import SweepRecord
from mixup_tune.records.names import NOT_METRICS, RAY_RESULT_KEYS
from mixup_tune.tracking import MlflowSweepCallback


def _result(epoch: int) -> dict[str, Any]:
    """One epoch's result as Ray hands it to the callback: the trainable's keys, then Ray's own."""
    return {
        "epoch": epoch,
        "test_error": 50.0 - epoch,
        "train_loss": 1.0 / epoch,
        "best_test_error": 50.0 - epoch,
        "labels_changed": 0.0,
        "diverged": 0.0,
        "train_s": 0.5,
        "test_brier": 0.4 / epoch,  # known nowhere in mixup_tune: a metric a new trainable reports
        "n_dead_units": epoch * 3,  # an int
        "converged": epoch == 3,  # a flag, not a number
        "bad name?": 1.0,  # MLflow refuses this name: left out, with one warning, not the whole batch
        "input_shape": "1x8x8",
        "compute_s": 0.6 * epoch,
        "threads": 1,
        "timestamp": 1_765_000_000 + epoch,
        "training_iteration": epoch,
        "time_this_iter_s": 0.7,
        "time_total_s": 0.7 * epoch,
        "pid": 4242,
        "time_since_restore": 0.7 * epoch,
        "iterations_since_restore": epoch,
        "done": False,
        "trial_id": "d4f59_00000",
    }


def test_a_metric_unknown_to_records_reaches_mlflow_and_ray_s_keys_do_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    record = SweepRecord.start(
        client, "passing", "passing", study="generic", storage="", algorithm="grid", log_model=False
    )
    callback = MlflowSweepCallback(record)
    trial = SimpleNamespace(
        trial_id="d4f59_00000",
        config={"dataset": "digits", "alpha": 1.0},
        num_failures=0,
        last_result=None,
        checkpoint=None,
    )
    callback.on_trial_start(0, [], trial)
    for epoch in (1, 2, 3):
        callback.on_trial_result(0, [], trial, _result(epoch))
    trial.last_result = _result(3)
    callback.on_trial_complete(0, [], trial)

    run_id = record.run_id(trial)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and record.offline_reason is None

    def history(name: str) -> list[tuple[int, float]]:
        return sorted((int(m.step), m.value) for m in client.get_metric_history(run_id, name))

    assert history("test_brier") == [(1, 0.4), (2, 0.2), (3, pytest.approx(0.4 / 3))]
    assert history("n_dead_units") == [(1, 3.0), (2, 6.0), (3, 9.0)]
    assert history("test_error") == [(1, 49.0), (2, 48.0), (3, 47.0)]
    logged = set(run.data.metrics)
    assert not logged & (RAY_RESULT_KEYS | {"epoch", "diverged", "train_s", "compute_s", "threads", "done"})
    assert "converged" not in logged and "bad name?" not in logged and "input_shape" not in logged
    # the final metrics, once each at the last epoch
    assert history("best_test_error") == [(3, 47.0)] and history("last_test_error") == [(3, 47.0)]
    warnings = [line for line in capsys.readouterr().err.splitlines() if "bad name?" in line]
    assert len(warnings) == 1 and "not an MLflow metric name" in warnings[0], warnings


def test_the_keys_ray_adds_to_every_result_are_ray_s_own() -> None:
    """Pinned to the installed Ray: a Ray that adds a key to every result fails here, not in the UI."""
    assert set(ray_result.AUTO_RESULT_KEYS) == RAY_RESULT_KEYS
    assert not NOT_METRICS & RAY_RESULT_KEYS
