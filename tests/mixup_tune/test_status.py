"""``mixup-tune status`` and the summary's best, read from a real sqlite store that ``SweepRecord`` wrote as
the sweep callback writes it: no Ray, no sweep. (Whole sweeps watched: tests/integration/test_watching.py.)"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from mixup_tune.errors import UserError
from mixup_tune.records import SweepRecord
from mixup_tune.spec import validate_spec
from mixup_tune.status import as_json, sweep_status
from mixup_tune.sweep_end import best_finished

SPEC: dict[str, Any] = {
    "name": "looked",
    "trainable": {"dataset": "digits", "model": "mlp", "epochs": 4},
    "search": {"alpha": [0, 1], "seed": [0, 1]},
}


def _trial(trial_id: str, alpha: float, seed: int) -> SimpleNamespace:
    config = {"dataset": "digits", "model": "mlp", "epochs": 4, "alpha": alpha, "seed": seed}
    return SimpleNamespace(
        trial_id=trial_id, config=config, num_failures=0, last_result=None, checkpoint=None
    )


def _epochs(errors: list[float]) -> list[dict[str, Any]]:
    return [
        {"epoch": epoch, "test_error": error, "best_test_error": min(errors[:epoch]), "labels_changed": 0.0}
        for epoch, error in enumerate(errors, start=1)
    ]


@pytest.fixture
def record(tmp_path: Path) -> SweepRecord:
    """Four trials of a sweep of 4: two finished (one of them diverged), one failed, one running."""
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    record = SweepRecord.start(
        client, "looked", "looked", study="generic", storage="", algorithm="grid", log_model=False
    )
    record.save_spec(SPEC)
    record.set_trial_count(4)
    finished, diverged, failed, running = (
        _trial("a_0", 1.0, 0),
        _trial("a_1", 0.0, 0),
        _trial("a_2", 1.0, 1),
        _trial("a_3", 0.0, 1),
    )
    record.log_results(finished, _epochs([30.0, 20.0, 12.5, 10.25]))
    record.complete(finished, _epochs([30.0, 20.0, 12.5, 10.25])[-1])
    record.log_results(diverged, _epochs([40.0, 90.0]))  # as a trial whose loss went NaN: chance error
    record.complete(diverged, {**_epochs([40.0, 90.0])[-1], "diverged": 1.0})
    record.log_results(failed, _epochs([50.0]))
    record.fail(failed, "Traceback (most recent call last):\n  ...\nRuntimeError: CUDA out of memory")
    record.log_results(running, _epochs([35.0, 25.0, 15.0]))
    record.flush()
    return record


def test_status_counts_each_trial_by_its_run_with_its_setting_epoch_and_error(record: SweepRecord) -> None:
    progress, parent_status, driver = sweep_status(record.client, "looked")
    assert parent_status == "RUNNING" and driver is None  # no lease taken here
    by_label = {trial.label: trial for trial in progress.trials}
    assert set(by_label) == {"alpha=1.0 seed=0", "alpha=0.0 seed=0", "alpha=1.0 seed=1", "alpha=0.0 seed=1"}
    assert [(t.status, t.epoch, t.epochs) for t in progress.trials] == [
        ("finished", 4, 4),
        ("diverged", 2, 4),
        ("failed", 1, 4),
        ("running", 3, 4),
    ]
    assert by_label["alpha=1.0 seed=1"].error == "RuntimeError: CUDA out of memory"
    assert progress.total == 4 and progress.counts()["finished"] == 1
    shown = as_json(progress, parent_status)
    assert shown["best"] == {"value": 10.25, "setting": "alpha=1.0 seed=0"}


def test_the_summarys_best_is_over_finished_trials_only(record: SweepRecord) -> None:
    best, finished = best_finished(record, validate_spec(SPEC, source="test"))
    assert finished == 1 and best is not None
    assert (best.label, best.value) == ("alpha=1.0 seed=0", 10.25)


def test_status_of_an_unknown_sweep_is_one_users_error(record: SweepRecord) -> None:
    with pytest.raises(UserError, match="no sweep named 'other'"):
        sweep_status(record.client, "other")
