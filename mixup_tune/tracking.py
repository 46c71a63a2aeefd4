"""The Tune callback that records a sweep while it runs: Tune's trial events, passed on to the sweep's
``SweepRecord``.

Only the driver writes to MLflow. Trials on remote nodes never talk to the
tracking server (ray#36257, ray#19263): their results reach the driver through
Ray, and Tune hands them to this callback there. It is a thin adapter, as Ray's
``MLflowLoggerCallback`` is over ``_MLflowLoggerUtil``: what is logged, when,
and what happens when the store fails are the record's
(``mixup_tune.records.sweep``).
"""

from __future__ import annotations

from typing import Any

from mlflow.tracking import MlflowClient
from ray.tune import Callback
from ray.tune.experiment import Trial

from .records import SweepRecord
from .snapshots import log_snapshots
from .sync import error_text, final_state


class MlflowSweepCallback(Callback):
    """Logs every trial of a sweep as a nested child run of the sweep's parent run; each write guarded
    (``SweepRecord.guarded``)."""

    def __init__(self, record: SweepRecord) -> None:
        self.record = record

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Ray unpickles this callback from a sweep's saved state on `resume`. One saved before the
        # callback held a SweepRecord kept its fields itself: the same record is rebuilt from them.
        if "record" not in state:
            client = MlflowClient(state["tracking_uri"])
            state = {
                "record": SweepRecord(
                    client,
                    state["experiment_id"],
                    state["parent_run_id"],
                    state["sweep"],
                    state["run_tags"],
                    storage="",
                    log_model=state["log_model"],
                    snapshots=log_snapshots,
                )
            }
        self.__dict__.update(state)

    # Ray Tune's hooks, all run on the driver.

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.record.guarded(lambda: self.record.run_id(trial))

    def on_trial_restore(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.record.guarded(lambda: self.record.run_id(trial))

    def on_trial_recover(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.record.guarded(lambda: self.record.count_failure(trial))

    def on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict[str, Any], **info: Any
    ) -> None:
        self.record.guarded(lambda: self.record.log_results(trial, [result], defer=True))

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.record.guarded(lambda: self.record.complete(trial, trial.last_result or {}, final_state(trial)))

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.record.guarded(lambda: self.record.fail(trial, error_text(trial)))

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        self.record.guarded(self.record.flush)
