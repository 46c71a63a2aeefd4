"""MLflow records of a sweep, written by the driver only.

Trials on remote nodes never talk to the tracking server (ray#36257, ray#19263):
their results reach the driver through Ray, and ``MlflowSweepCallback`` logs
them. It differs from Ray's ``MLflowLoggerCallback`` where that one fails:

- runs are found by tags (sweep name + a hash of the trial's config), so a
  restored or re-run sweep reopens its runs instead of duplicating them;
- an epoch already logged for a run is never logged again (ray#48664);
- each epoch's metrics go in one ``log_batch`` call;
- every trial is a child of one parent run per sweep.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from ray.tune import Callback
from ray.tune.experiment import Trial

from trainables import TrainConfig

from . import tags
from .records import EPOCH_METRICS, MODEL_DIR, MODEL_FILE, find_runs

# Options that say where a trial runs, not what it computes: left out of its identity.
_PLACEMENT_OPTIONS = ("device", "data_root", "download")


def trial_key(config: dict[str, Any]) -> str:
    """A stable id for a trial: the hash of its full, validated config."""
    flat = TrainConfig.from_dict(config).flat()
    identity = {k: v for k, v in flat.items() if k not in _PLACEMENT_OPTIONS}
    return hashlib.sha1(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def code_version() -> str:
    """The git commit of this checkout ("-dirty" with local changes), else the package version."""
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"mixup-tune {version('mixup-tune')}"
        except PackageNotFoundError:
            return "unknown"


def artifact_location(tracking_uri: str, experiment: str) -> str | None:
    """For the sqlite default, artifacts beside the database (not in the trial's working dir)."""
    if tracking_uri.startswith("sqlite:///"):
        return (Path(tracking_uri.removeprefix("sqlite:///")).parent / "mlartifacts" / experiment).as_uri()
    return None


def get_or_create_experiment(client: MlflowClient, name: str, tracking_uri: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=artifact_location(tracking_uri, name))


def get_or_create_parent(client: MlflowClient, experiment_id: str, sweep: str, run_tags: dict[str, str]) -> str:
    existing = find_runs(client, sweep, "parent", experiment_ids=[experiment_id])
    if existing:
        run_id = existing[0].info.run_id
        client.update_run(run_id, status="RUNNING")
    else:
        run_id = client.create_run(experiment_id, run_name=sweep, tags={tags.SWEEP: sweep, tags.ROLE: "parent"}).info.run_id
    client.log_batch(run_id, tags=[RunTag(k, v) for k, v in run_tags.items()])
    return run_id


def finished_trial_keys(client: MlflowClient, experiment_id: str, sweep: str) -> set[str]:
    return {run.data.tags[tags.TRIAL_ID] for run in find_runs(client, sweep, "trial", experiment_ids=[experiment_id]) if run.info.status == "FINISHED"}


def _mlflow_params(config: dict[str, Any]) -> list[Param]:
    flat = TrainConfig.from_dict(config).flat()
    return [Param(key, json.dumps(value) if isinstance(value, (list, tuple)) else str(value)) for key, value in sorted(flat.items())]


class MlflowSweepCallback(Callback):
    """Logs every trial of a sweep as a nested child run of the sweep's parent run."""

    def __init__(self, tracking_uri: str, experiment_id: str, parent_run_id: str, sweep: str, run_tags: dict[str, str], log_model: bool = False) -> None:
        self.tracking_uri = tracking_uri
        self.log_model = log_model  # final weights as an artifact, for evaluations after the sweep (black box)
        self.experiment_id = experiment_id
        self.parent_run_id = parent_run_id
        self.sweep = sweep
        self.run_tags = run_tags
        self._client: MlflowClient | None = None
        self._runs: dict[str, str] = {}  # Ray trial id -> MLflow run id; rebuilt from tags after a restore
        self._last_epoch: dict[str, int] = {}  # MLflow run id -> last epoch logged

    def __getstate__(self) -> dict[str, Any]:
        # Ray pickles callbacks with the experiment state; the client and the
        # caches are rebuilt from MLflow, which is the record.
        return {**self.__dict__, "_client": None, "_runs": {}, "_last_epoch": {}}

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self._client = MlflowClient(self.tracking_uri)
        return self._client

    def run_id(self, trial: Trial) -> str:
        if trial.trial_id not in self._runs:
            self._runs[trial.trial_id] = self._open_run(trial)
        return self._runs[trial.trial_id]

    def _open_run(self, trial: Trial) -> str:
        key = trial_key(trial.config)
        existing = find_runs(self.client, self.sweep, "trial", key, [self.experiment_id])
        if existing:
            run_id = existing[0].info.run_id
            self.client.update_run(run_id, status="RUNNING")
            history = self.client.get_metric_history(run_id, "test_error")
            self._last_epoch[run_id] = max((int(m.step) for m in history), default=0)
        else:
            run_tags = {tags.SWEEP: self.sweep, tags.ROLE: "trial", tags.TRIAL_ID: key, tags.PARENT_RUN: self.parent_run_id}
            run_id = self.client.create_run(self.experiment_id, run_name=f"{self.sweep}-{trial.trial_id}", tags=run_tags).info.run_id
            self.client.log_batch(run_id, params=_mlflow_params(trial.config))
            self._last_epoch[run_id] = 0
        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in {**self.run_tags, tags.RAY_TRIAL_ID: trial.trial_id}.items()])
        return run_id

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.run_id(trial)

    def on_trial_restore(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self.run_id(trial)

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict[str, Any], **info: Any) -> None:
        run_id = self.run_id(trial)
        epoch = int(result.get("epoch", 0))
        if epoch <= self._last_epoch.get(run_id, 0):  # replayed after a restore: already logged
            return
        timestamp = int(time.time() * 1000)
        metrics = [Metric(name, float(result[name]), timestamp, epoch) for name in EPOCH_METRICS if name in result]
        self.client.log_batch(run_id, metrics=metrics)
        self._last_epoch[run_id] = epoch

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        run_id = self.run_id(trial)
        result = trial.last_result or {}
        final: dict[str, float] = {}
        if "test_error" in result:
            final = {"best_test_error": result["best_test_error"], "last_test_error": result["test_error"], "labels_changed": result["labels_changed"]}
            final.update({name: value for name, value in result.items() if name.startswith("white_box_")})
        epoch = int(result.get("epoch", 0))
        timestamp = int(time.time() * 1000)
        diverged = bool(result.get("diverged"))
        self.client.log_batch(
            run_id,
            metrics=[Metric(name, float(value), timestamp, epoch) for name, value in final.items() if value is not None and not math.isnan(value)],
            tags=[RunTag(tags.DIVERGED, "true")] if diverged else [],
        )
        if self.log_model and trial.checkpoint is not None:
            self._log_model(run_id, trial)
        self.client.set_terminated(run_id, "FINISHED")

    def _log_model(self, run_id: str, trial: Trial) -> None:
        """The final weights and config only: a fraction of the checkpoint, readable without Ray."""
        import torch

        from .trainable import CHECKPOINT_FILE

        with trial.checkpoint.as_directory() as directory:
            state = torch.load(Path(directory) / CHECKPOINT_FILE, map_location="cpu", weights_only=False)
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / MODEL_FILE
            torch.save({"config": state["config"], "model": state["model"]}, path)
            self.client.log_artifact(run_id, str(path), MODEL_DIR)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        run_id = self.run_id(trial)
        self.client.set_tag(run_id, tags.ERROR, _error_text(trial))
        self.client.set_terminated(run_id, "FAILED")


def _error_text(trial: Trial, limit: int = 4000) -> str:
    """The end of the trial's traceback (MLflow tags hold at most 8,000 characters)."""
    path = trial.error_file
    if path and Path(path).exists():
        return Path(path).read_text(errors="replace")[-limit:]
    return "trial failed (no error file)"


def close_open_runs(client: MlflowClient, experiment_id: str, sweep: str, status: str = "KILLED") -> int:
    """Mark the sweep's trial runs still RUNNING as ``status``; return how many."""
    count = 0
    for run in find_runs(client, sweep, "trial", experiment_ids=[experiment_id]):
        if run.info.status == "RUNNING":
            client.set_terminated(run.info.run_id, status)
            count += 1
    return count
