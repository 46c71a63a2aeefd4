"""The sweep callback writes a trial's epochs to MLflow in batches, without losing, reordering or repeating
any.

Driven through Ray Tune's hooks directly, against a real sqlite store: the
trial objects carry what Tune's ``Trial`` gives the callback (id, config,
failures, last result). The batching itself is the callback's SweepRecord's
(``mixup_tune.records.sweep``). The sweeps in test_sweep_integration.py and the
stop/outage tests cover the same callback under a real Ray.
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path
from types import SimpleNamespace

from mlflow.tracking import MlflowClient

from mixup_tune.records import SweepRecord, sweep
from mixup_tune.tracking import MlflowSweepCallback


def _result(epoch: int) -> dict[str, float]:
    return {
        "epoch": epoch,
        "test_error": 50.0 - epoch,
        "train_error_real": 40.0 - epoch,
        "train_loss": 1.0 / epoch,
        "lr": 0.1,
        "best_test_error": 50.0 - epoch,
        "labels_changed": 0,
        "diverged": False,
    }


def _trial(trial_id: str, alpha: float) -> SimpleNamespace:
    return SimpleNamespace(
        trial_id=trial_id,
        config={"dataset": "digits", "alpha": alpha},
        num_failures=0,
        last_result=None,
        checkpoint=None,
    )


def _callback(tmp_path: Path) -> tuple[MlflowSweepCallback, MlflowClient]:
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    record = SweepRecord.start(
        client, "batches", "batches", study="generic", storage="", algorithm="grid", log_model=False
    )
    return MlflowSweepCallback(record), client


def _logged_epochs(client: MlflowClient, run_id: str) -> list[int]:
    return sorted(int(m.step) for m in client.get_metric_history(run_id, "test_error"))


def test_epochs_are_held_back_then_written_once_each_at_the_trials_end(tmp_path: Path) -> None:
    callback, client = _callback(tmp_path)
    trial = _trial("t1", 1.0)
    callback.on_trial_start(0, [], trial)
    run_id = callback.record.run_id(trial)
    callback.on_trial_result(0, [], trial, _result(1))
    assert _logged_epochs(client, run_id) == [1], "the first epoch is written at once: the run shows progress"
    for epoch in range(2, 11):
        callback.on_trial_result(0, [], trial, _result(epoch))
    # replayed, as after a restore from an older checkpoint
    callback.on_trial_result(0, [], trial, _result(5))
    assert _logged_epochs(client, run_id) == [1], "epochs within FLUSH_INTERVAL_S wait on the driver"

    trial.last_result = _result(10)
    callback.on_trial_complete(0, [], trial)
    run = client.get_run(run_id)
    assert _logged_epochs(client, run_id) == list(range(1, 11)), "every epoch once, in order"
    assert run.info.status == "FINISHED" and run.data.metrics["last_test_error"] == 40.0
    assert callback.record.offline_reason is None


def test_a_slow_trials_epochs_are_written_as_they_come_and_the_sweeps_end_flushes_the_rest(
    tmp_path: Path, monkeypatch
) -> None:
    callback, client = _callback(tmp_path)
    monkeypatch.setattr(sweep, "FLUSH_INTERVAL_S", 0.2)  # stands for epochs longer than the interval
    slow, fast = _trial("slow", 0.0), _trial("fast", 1.0)
    for epoch in (1, 2, 3):
        callback.on_trial_result(0, [], slow, _result(epoch))
        time.sleep(0.25)
        assert _logged_epochs(client, callback.record.run_id(slow)) == list(range(1, epoch + 1))
    monkeypatch.setattr(sweep, "FLUSH_INTERVAL_S", 60.0)
    for epoch in (1, 2, 3):
        callback.on_trial_result(0, [], fast, _result(epoch))
    assert _logged_epochs(client, callback.record.run_id(fast)) == [1]
    callback.on_experiment_end([])  # a sweep stopped with trials unfinished still writes what it received
    assert _logged_epochs(client, callback.record.run_id(fast)) == [1, 2, 3]


def test_a_reopened_run_continues_after_its_last_written_epoch(tmp_path: Path) -> None:
    """A restored driver's callback (caches empty, as Ray unpickles it) finds the run by its trial hash."""
    callback, client = _callback(tmp_path)
    trial = _trial("t1", 0.4)
    for epoch in (1, 2, 3):
        callback.on_trial_result(0, [], trial, _result(epoch))
    callback.on_experiment_end([])
    restored = pickle.loads(pickle.dumps(callback))  # as Ray saves and restores it
    for epoch in (2, 3, 4, 5):  # resumed from the checkpoint at epoch 1
        restored.on_trial_result(0, [], trial, _result(epoch))
    restored.on_experiment_end([])
    [run_id] = {callback.record.run_id(trial), restored.record.run_id(trial)}
    assert _logged_epochs(client, run_id) == [1, 2, 3, 4, 5]


def test_an_ended_trials_running_statistics_are_let_go_once_its_run_is_finished(tmp_path: Path) -> None:
    """Ray keeps min, max, mean and the last 5 and 10 values of every numeric result key of every trial to
    the sweep's end; once the trial has ended and its run is FINISHED the callback drops them (10,000 trials:
    BENCHMARKS.md), and Ray starts them afresh should the trial ever report again."""
    from ray.tune.trainable.metadata import _TrainingRunMetadata

    callback, client = _callback(tmp_path)
    trial = _trial("t1", 0.2)
    trial.run_metadata = _TrainingRunMetadata()
    for epoch in (1, 2, 3):
        callback.on_trial_result(0, [], trial, _result(epoch))
        for name, value in _result(epoch).items():
            trial.run_metadata.update_metric(name, float(value), step=epoch)
    before = len(trial.run_metadata.get_json_state())
    trial.last_result = _result(3)
    callback.on_trial_complete(0, [], trial)
    assert client.get_run(callback.record.run_id(trial)).info.status == "FINISHED"
    assert trial.run_metadata.metric_analysis == {} and trial.run_metadata.metric_n_steps == {}
    assert len(trial.run_metadata.get_json_state()) < before / 2, "Ray's saved state sheds them too"
    trial.run_metadata.update_metric("test_error", 1.0, step=4)
    assert trial.run_metadata.metric_analysis["test_error"]["last"] == 1.0


def test_closing_the_record_ends_the_runs_left_running_and_no_other(tmp_path: Path) -> None:
    """The sweep's end reads back only its trial runs still RUNNING (a search by status), and kills those."""
    callback, client = _callback(tmp_path)
    done, cut = _trial("done", 0.0), _trial("cut", 1.0)
    for trial in (done, cut):
        callback.on_trial_result(0, [], trial, _result(1))
    done.last_result = _result(1)
    callback.on_trial_complete(0, [], done)
    callback.record.close("KILLED")
    statuses = {
        trial.trial_id: client.get_run(callback.record.run_id(trial)).info.status for trial in (done, cut)
    }
    assert statuses == {"done": "FINISHED", "cut": "KILLED"}
    assert client.get_run(callback.record.parent_run_id).info.status == "KILLED"
