"""MLflow records of a sweep, written by the driver only.

Trials on remote nodes never talk to the tracking server (ray#36257, ray#19263):
their results reach the driver through Ray, and ``MlflowSweepCallback`` logs
them. It differs from Ray's ``MLflowLoggerCallback`` where that one fails:

- runs are found by tags (sweep name + a hash of the trial's config), so a
  restored or re-run sweep reopens its runs instead of duplicating them;
- an epoch already logged for a run is never logged again (ray#48664);
- a trial's epoch metrics are sent in batches: one ``log_batch`` call per
  trial every ``FLUSH_INTERVAL_S`` (and at its end), not one per epoch, so a
  fast trial does not wait on the store after each epoch;
- every trial is a child of one parent run per sweep.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from ray.tune import Callback
from ray.tune.experiment import Trial

from trainables import TrainConfig
from trainables.errors import first_line

from .records import tags
from .records import EPOCH_METRICS, MODEL_DIR, MODEL_FILE, PROGRESS_METRIC, find_runs
from .snapshots import log_snapshots

_METRICS_PER_BATCH = 1000  # MLflow's limit for one log_batch call
# Epoch metrics wait at most this long (s) on the driver before they are written. Each write costs
# a few ms of the driver's time, during which the trial, blocked in its report, waits: at one write
# per epoch that was most of a sweep's per-trial overhead for short epochs (BENCHMARKS.md). Epochs
# longer than this are still written one by one, as they come.
FLUSH_INTERVAL_S = 2.0

# Options that say where a trial runs, not what it computes: left out of its identity.
_PLACEMENT_OPTIONS = ("device", "data_root", "download", "loader_workers")


_INPUT_TAGS = {"input_shape": tags.INPUT_SHAPE, "normalisation": tags.NORMALISATION, "label_noise_protocol": tags.LABEL_NOISE_PROTOCOL}  # result key -> run tag


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
    """Logs every trial of a sweep as a nested child run of the sweep's parent run.

    The ``record_*`` methods write to MLflow and raise when it fails; ``sync``
    replays Ray's stored results through them. The Tune hooks call them
    guarded: when the tracking store fails mid-sweep, the callback stops
    writing (a dead server would stall every result) and the trials go on.
    Their results stay in Ray's storage, and the sweep's end, ``resume`` or
    ``mixup-tune sync`` backfills MLflow from there.
    """

    def __init__(self, tracking_uri: str, experiment_id: str, parent_run_id: str, sweep: str, run_tags: dict[str, str], log_model: bool = False) -> None:
        self.tracking_uri = tracking_uri
        self.log_model = log_model  # final weights as an artifact, for evaluations after the sweep (black box)
        self.experiment_id = experiment_id
        self.parent_run_id = parent_run_id
        self.sweep = sweep
        self.run_tags = run_tags
        self.offline_reason: str | None = None  # why MLflow writes stopped, once they have
        self._client: MlflowClient | None = None
        self._runs: dict[str, str] = {}  # Ray trial id -> MLflow run id; rebuilt from tags after a restore
        self._last_epoch: dict[str, int] = {}  # MLflow run id -> last epoch logged
        self._nodes: dict[str, list[str]] = {}  # MLflow run id -> Ray node ids that ran it, in order
        self._pending: dict[str, list[Metric]] = {}  # MLflow run id -> epoch metrics not written yet
        self._flushed_at: dict[str, float] = {}  # MLflow run id -> when its metrics were last written (monotonic s)
        self._sweep_runs: dict[str, Any] | None = None  # trial hash -> the sweep's run for it, read once (None: not read yet)

    def __getstate__(self) -> dict[str, Any]:
        # Ray pickles callbacks with the experiment state; the client and the
        # caches are rebuilt from MLflow, which is the record. Unwritten
        # metrics are not lost: Ray's storage holds them, and sync backfills.
        caches = {"_runs": {}, "_last_epoch": {}, "_nodes": {}, "_pending": {}, "_flushed_at": {}, "_sweep_runs": None}
        return {**self.__dict__, "offline_reason": None, "_client": None, **caches}

    def fresh(self) -> MlflowSweepCallback:
        """A copy with no cached runs: Ray trial ids are only unique within one Ray experiment."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__getstate__())
        return copy

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
        if self._sweep_runs is None:  # one search for the whole sweep, not one per trial (tens of ms each)
            self._sweep_runs = {run.data.tags[tags.TRIAL_ID]: run for run in find_runs(self.client, self.sweep, "trial", experiment_ids=[self.experiment_id])}
        existing = self._sweep_runs.pop(key, None)  # popped: a run this callback opens is in self._runs from now on
        if existing is not None:
            run_id = existing.info.run_id
            self.client.update_run(run_id, status="RUNNING")
            history = self.client.get_metric_history(run_id, PROGRESS_METRIC[TrainConfig.from_dict(trial.config).task])
            self._last_epoch[run_id] = max((int(m.step) for m in history), default=0)
            self._nodes[run_id] = [n for n in existing.data.tags.get(tags.NODE_IDS, "").split(",") if n]
        else:
            run_tags = {tags.SWEEP: self.sweep, tags.ROLE: "trial", tags.TRIAL_ID: key, tags.PARENT_RUN: self.parent_run_id}
            run_id = self.client.create_run(self.experiment_id, run_name=f"{self.sweep}-{trial.trial_id}", tags=run_tags).info.run_id
            self.client.log_batch(run_id, params=_mlflow_params(trial.config))
            self._last_epoch[run_id] = 0
        run_tags = {**self.run_tags, tags.RAY_TRIAL_ID: trial.trial_id, tags.FAILURES: str(trial.num_failures)}
        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in run_tags.items()])
        return run_id

    def record_results(self, trial: Trial, results: list[dict[str, Any]], defer: bool = False) -> int:
        """Log the epochs not logged yet, in as few ``log_batch`` calls as MLflow allows. Returns how many.

        During a sweep that is one result at a time, held back (``defer``)
        until ``FLUSH_INTERVAL_S`` has passed since the run's last write;
        ``sync`` passes a trial's whole stored history, written at once.
        Epochs replayed after a restore are skipped.
        """
        run_id = self.run_id(trial)
        nodes = self._nodes.setdefault(run_id, [])
        moved = False
        last = self._last_epoch.get(run_id, 0)
        timestamp = int(time.time() * 1000)
        metrics: list[Metric] = []
        logged = 0
        for result in results:
            node = result.get("node_id")
            if node and (not nodes or nodes[-1] != node):  # first result, or the trial moved after a failure
                nodes.append(str(node))
                moved = True
            epoch = int(result.get("epoch", 0))
            if epoch <= last:  # already logged
                continue
            metrics += [Metric(name, float(result[name]), timestamp, epoch) for name in EPOCH_METRICS if name in result]
            described = {tag: str(result[key]) for key, tag in _INPUT_TAGS.items() if key in result}
            if described:  # what the model was fed: the first epoch says
                self.client.log_batch(run_id, tags=[RunTag(tag, value) for tag, value in described.items()])
            if result.get("snapshots"):  # a GAN trial's generated points, as artifacts
                log_snapshots(self.client, run_id, result["snapshots"], TrainConfig.from_dict(trial.config).gan.target)
            last, logged = epoch, logged + 1
        if moved:
            self.client.set_tag(run_id, tags.NODE_IDS, ",".join(nodes))
        self._last_epoch[run_id] = last
        self._pending.setdefault(run_id, []).extend(metrics)
        never_written = run_id not in self._flushed_at  # a run's first epoch shows at once
        if not defer or never_written or time.monotonic() - self._flushed_at[run_id] >= FLUSH_INTERVAL_S:
            self.flush(run_id)
        return logged

    def flush(self, run_id: str | None = None) -> None:
        """Write the held-back epoch metrics of one run, or of every run."""
        for run in [run_id] if run_id is not None else list(self._pending):
            metrics = self._pending.pop(run, [])
            for start in range(0, len(metrics), _METRICS_PER_BATCH):
                self.client.log_batch(run, metrics=metrics[start : start + _METRICS_PER_BATCH])
            self._flushed_at[run] = time.monotonic()

    def record_complete(self, trial: Trial) -> None:
        run_id = self.run_id(trial)
        self.flush(run_id)
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

    def record_error(self, trial: Trial) -> None:
        run_id = self.run_id(trial)
        self.flush(run_id)
        self.client.log_batch(run_id, tags=[RunTag(tags.ERROR, _error_text(trial)), RunTag(tags.FAILURES, str(trial.num_failures))])
        self.client.set_terminated(run_id, "FAILED")

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

    def _guarded(self, write: Callable[[], object]) -> None:
        """One MLflow write from a Tune hook. A failure must not stop the sweep: stop writing, say so once."""
        if self.offline_reason is not None:
            return
        try:
            write()
        except Exception as error:  # whatever the store raised: the trials' results are safe in Ray's storage
            self.offline_reason = f"{type(error).__name__}: {first_line(error)}"
            print(f"mixup-tune: MLflow stopped answering ({self.offline_reason}); trials go on and their results stay in Ray's storage; "
                  f"they are copied to MLflow at the end of the sweep, by `mixup-tune resume {self.sweep}` or by `mixup-tune sync {self.sweep}`", file=sys.stderr)  # fmt: skip

    # Ray Tune's hooks, all run on the driver.

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._guarded(lambda: self.run_id(trial))

    def on_trial_restore(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._guarded(lambda: self.run_id(trial))

    def on_trial_recover(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        """The trial failed and Ray will retry it (``max_failures``): count the attempt."""
        self._guarded(lambda: self.client.set_tag(self.run_id(trial), tags.FAILURES, str(trial.num_failures)))

    def on_trial_result(self, iteration: int, trials: list[Trial], trial: Trial, result: dict[str, Any], **info: Any) -> None:
        self._guarded(lambda: self.record_results(trial, [result], defer=True))

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._guarded(lambda: self.record_complete(trial))

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._guarded(lambda: self.record_error(trial))

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        self._guarded(self.flush)


def _error_text(trial: Trial, limit: int = 4000) -> str:
    """The end of the trial's traceback (MLflow tags hold at most 8,000 characters).

    From the driver's staging directory during the sweep, else from Ray's
    storage, where it also is after the driver is gone (``sync``).
    """
    name = trial.run_metadata.error_filename
    directories = [trial.path] if trial.path and "://" not in trial.path else []
    try:
        directories.insert(0, trial.local_path)
    except AssertionError:  # Ray is not running here (sync): no staging directory
        pass
    for directory in directories:
        if name and directory and Path(directory, name).exists():
            return Path(directory, name).read_text(errors="replace")[-limit:]
    return "trial failed (no error file found)"


def close_open_runs(client: MlflowClient, experiment_id: str, sweep: str, status: str = "KILLED") -> int:
    """Mark the sweep's trial runs still RUNNING as ``status``; return how many."""
    count = 0
    for run in find_runs(client, sweep, "trial", experiment_ids=[experiment_id]):
        if run.info.status == "RUNNING":
            client.set_terminated(run.info.run_id, status)
            count += 1
    return count
