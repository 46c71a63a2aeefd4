"""Ray Tune's two ends of a sweep: the function trainable that runs each trial in a Ray worker, and the
callback that records Tune's trial events on the driver.

Ray's own MLflow integration (``ray.air.integrations.mlflow``) keeps its two
ends in one module the same way. They meet at the result dict: the trainable
reports each epoch through Ray, and the callback hands it to the sweep's
``SweepRecord``. Only the driver writes to MLflow. Trials on remote nodes
never talk to the tracking server (ray#36257, ray#19263), and a worker
imports neither MLflow nor ``mixup_tune.records``.

The callback is a thin adapter, as Ray's ``MLflowLoggerCallback`` is over
``_MLflowLoggerUtil``: what is logged, when, and what happens when the store
fails are the record's (``mixup_tune.records.sweep``).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ray
from ray import tune
from ray.tune import Callback

from trainables import TrainConfig

from .ray_internals import error_file_name, forget_statistics

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

    from .records import SweepRecord

CHECKPOINT_FILE = "trial.pt"


# The worker's end.


def threads_per_trial(cpus: float) -> int:
    """torch's intra-op threads for a trial of ``cpus`` CPUs: its whole share, at least one."""
    return max(1, int(cpus))


def mixup_trial(
    config: dict[str, Any],
    checkpoint_interval_s: float = 30.0,
    plugins: tuple[str, ...] | list[str] = (),
    threads: int = 1,
) -> None:
    """Ray function trainable. Resumes from Ray's checkpoint when there is one (after a node loss or restore).

    The sweep's ``plugins`` are imported first (the runtime environment shipped their files), so that what
    they register can be built; torch's thread count is then set to ``threads``, whatever a plugin's
    import of torch made of it (one more thread than the trial's CPUs changed its numbers), and reported.

    Checkpoints are taken by wall time, not every epoch: on small models a
    checkpoint costs more than an epoch, and Ray snapshots its experiment
    state with each one.

    Each result also carries ``compute_s``: the seconds this call has spent in
    ``train`` (data, model, epochs), less the time spent reporting and
    checkpointing. Ray's ``time_total_s`` counts those waits too, and the
    worker's imports, so the two side by side show what Tune costs a trial
    (``benchmarks/orchestration.py`` sums it against a sweep's wall time).
    """
    # Imported here, in the trial's worker: the driver only names this function.
    from trainables.plugins import entry_point_plugins, load_plugins

    load_plugins([*entry_point_plugins(), *plugins])
    import torch

    from trainables import train
    from trainables.device import resolve_device

    from .system_metrics import SystemSampler

    torch.set_num_threads(threads)
    train_config = TrainConfig.from_dict(config)
    device = resolve_device(train_config.device)
    system = SystemSampler(device.index or 0 if device.type == "cuda" else None)
    checkpoint = tune.get_checkpoint()
    resume_state = None if checkpoint is None else load_state(checkpoint)

    # logged as a tag: which node ran (or resumed) the trial
    node_id = ray.get_runtime_context().get_node_id()
    started = last_checkpoint = time.perf_counter()
    reporting_s = 0.0  # time in tune.report and checkpointing: Tune's share of the trial, not compute

    first_report = True

    def report(metrics: dict[str, Any], state: Any) -> None:
        nonlocal last_checkpoint, reporting_s, first_report
        reached = time.perf_counter()
        metrics = {
            **metrics,
            **system.sample(metrics),
            "node_id": node_id,
            "compute_s": reached - started - reporting_s,
        }
        if first_report:  # this attempt's threads (a trial resumed elsewhere records its new node's)
            metrics["threads"] = torch.get_num_threads()
        final = int(metrics["epoch"]) == train_config.epochs or bool(metrics["diverged"])
        if not final and reached - last_checkpoint < checkpoint_interval_s:
            tune.report(metrics)
        else:
            with tempfile.TemporaryDirectory() as directory:
                torch.save(state(), Path(directory) / CHECKPOINT_FILE)
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))
            last_checkpoint = time.perf_counter()
        reporting_s += time.perf_counter() - reached
        first_report = False
        system.reported()

    train(train_config, on_epoch=report, resume_state=resume_state)


def load_state(checkpoint: tune.Checkpoint, map_location: str | None = None) -> Any:
    """A trial's full state from one of its checkpoints: what ``train`` resumes from, and what holds its final
    weights."""
    import torch

    with checkpoint.as_directory() as directory:
        return torch.load(Path(directory) / CHECKPOINT_FILE, map_location=map_location, weights_only=False)


# The driver's end.


def final_state(trial: Trial) -> Callable[[], Any] | None:
    """Reads the trial's last checkpoint (its final weights), for a record that logs models; None without
    one."""
    checkpoint = trial.checkpoint
    return None if checkpoint is None else lambda: load_state(checkpoint, map_location="cpu")


def error_text(trial: Trial, limit: int = 4000) -> str:
    """The end of the trial's traceback (MLflow tags hold at most 8,000 characters).

    From the driver's staging directory during the sweep, else from Ray's
    storage, where it also is after the driver is gone (``sync``).
    """
    name = error_file_name(trial)
    directories: list[str | None] = [trial.path] if trial.path and "://" not in trial.path else []
    try:
        directories.insert(0, trial.local_path)
    except AssertionError:  # Ray is not running here (sync): no staging directory
        pass
    for directory in directories:
        if name and directory and Path(directory, name).exists():
            return Path(directory, name).read_text(errors="replace")[-limit:]
    return "trial failed (no error file found)"


class MlflowSweepCallback(Callback):
    """Logs every trial of a sweep as a nested child run of the sweep's parent run; each write guarded
    (``SweepRecord.guarded``)."""

    def __init__(self, record: SweepRecord) -> None:
        self.record = record

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Ray unpickles this callback from a sweep's saved state on `resume`. One saved before the
        # callback held a SweepRecord kept its fields itself: the same record is rebuilt from them.
        if "record" not in state:
            from mlflow.tracking import MlflowClient

            from .records import SweepRecord
            from .snapshots import log_snapshots

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
        forget_statistics(trial)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.record.guarded(lambda: self.record.fail(trial, error_text(trial)))

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        self.record.guarded(self.record.flush)
