"""One sweep's MLflow record: an experiment, a parent run, and a nested run per trial.

``SweepRecord`` is the only writer of a sweep's runs. Ray reaches it through two
thin adapters that turn Tune's trials into its calls: the Tune callback
(``mixup_tune.tracking``) while the sweep runs, and ``mixup_tune.sync``, which
replays Ray's stored results afterwards. Like the rest of ``records`` it needs
MLflow and trainables only, never Ray.

It differs from Ray's ``MLflowLoggerCallback`` where that one fails:

- runs are found by tags (sweep name + a hash of the trial's config), so a
  restored or re-run sweep reopens its runs instead of duplicating them;
- an epoch already logged for a run is never logged again (ray#48664);
- a trial's epoch metrics are sent in batches: one ``log_batch`` call per
  trial every ``FLUSH_INTERVAL_S`` (and at its end), not one per epoch, so a
  fast trial does not wait on the store after each epoch;
- every trial is a child of one parent run per sweep.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import yaml
from mlflow.entities import Metric, Run, RunTag
from mlflow.tracking import MlflowClient

from trainables import TrainConfig
from trainables.errors import first_line

from ..errors import UserError
from ..mlflow_internals import metric_name_ok
from . import tags
from .lineage import dataset_input
from .names import MODEL_DIR, MODEL_FILE, PROGRESS_METRIC, RELIABILITY_ARTIFACT, is_metric
from .store import (
    code_version,
    error_line,
    find_parent,
    find_runs,
    mlflow_params,
    open_experiment,
    open_parent,
    setting_name,
    swept_in,
    trial_key,
)

_METRICS_PER_BATCH = 1000  # MLflow's limit for one log_batch call
# Epoch metrics wait at most this long (s) on the driver before they are written. Each write costs
# a few ms of the driver's time, during which the trial, blocked in its report, waits: at one write
# per epoch that was most of a sweep's per-trial overhead for short epochs (BENCHMARKS.md). Epochs
# longer than this are still written one by one, as they come.
FLUSH_INTERVAL_S = 2.0
SPEC_ARTIFACT = "spec.yaml"  # on the parent run: the spec the sweep last ran with, for `resume`
CODE_DIFF_ARTIFACT = "code.diff"  # on the parent run, when the code version is dirty: the uncommitted diff
# result key -> run tag
_INPUT_TAGS = {
    "input_shape": tags.INPUT_SHAPE,
    "normalisation": tags.NORMALISATION,
    "label_noise_protocol": tags.LABEL_NOISE_PROTOCOL,
    "mixing": tags.MIXING,
    "threads": tags.THREADS,
    "dataset_labels": tags.LABELS,
}

# Logs a GAN result's snapshots (client, run id, iteration -> points, target). Given by the driver
# (mixup_tune.snapshots): drawing them needs matplotlib and analysis, which records must not import.
SnapshotWriter = Callable[[MlflowClient, str, dict[str, Any], str], None]


class TrialLike(Protocol):
    """What the record reads of a trial. Ray Tune's ``Trial`` has it; so can a test's stand-in."""

    @property
    def trial_id(self) -> str: ...

    @property
    def config(self) -> dict[str, Any]: ...

    @property
    def num_failures(self) -> int: ...


class SweepRecord:
    """A sweep's runs in MLflow: opened by ``start`` or ``find``, written trial by trial, closed by ``close``.

    The writing methods raise when the store fails; ``sync`` calls them so.
    During a sweep the Tune callback wraps each write in ``guarded``: when the
    tracking store fails mid-sweep, the record stops writing (a dead server
    would stall every result) and the trials go on. Their results stay in
    Ray's storage, and the sweep's end, ``resume`` or ``mixup-tune sync``
    backfills MLflow from there.
    """

    def __init__(
        self,
        client: MlflowClient,
        experiment_id: str,
        parent_run_id: str,
        sweep: str,
        run_tags: dict[str, str],
        *,
        storage: str,
        log_model: bool,
        snapshots: SnapshotWriter | None = None,
    ) -> None:
        self.tracking_uri: str = client.tracking_uri
        self.experiment_id = experiment_id
        self.parent_run_id = parent_run_id
        self.sweep = sweep
        self.run_tags = run_tags  # on every trial run: study and code version
        self.storage = storage  # Ray's experiment directory, as the parent run records it ("" if it does not)
        # final weights as an artifact, for evaluations after the sweep (black box)
        self.log_model = log_model
        self.snapshots = snapshots
        self.offline_reason: str | None = None  # why writes stopped, once they have
        self._client: MlflowClient | None = client
        self._runs: dict[str, str] = {}  # Ray trial id -> MLflow run id; rebuilt from tags after a restore
        self._last_epoch: dict[str, int] = {}  # MLflow run id -> last epoch logged
        self._nodes: dict[str, list[str]] = {}  # MLflow run id -> Ray node ids that ran it, in order
        self._pending: dict[str, list[Metric]] = {}  # MLflow run id -> epoch metrics not written yet
        self._flushed_at: dict[str, float] = {}  # MLflow run id -> when its metrics were last written (s)
        # trial key -> the sweep's run for it, read once (None: not read yet)
        self._sweep_runs: dict[str, Run] | None = None
        self.swept: list[str] | None = None  # the options the sweep varies, which name its trial runs
        self._metric_names: dict[str, bool] = {}  # result key -> whether MLflow takes it as a metric's name

    @classmethod
    def start(
        cls,
        client: MlflowClient,
        sweep: str,
        experiment: str,
        *,
        study: str,
        storage: str,
        algorithm: str,
        log_model: bool,
        snapshots: SnapshotWriter | None = None,
        provenance: dict[str, str] | None = None,
    ) -> SweepRecord:
        """A sweep about to run: its experiment and parent run, found by tags (and reopened) or created,
        tagged with this checkout's code version and ``provenance`` (its plugins), which its trial runs get
        too."""
        experiment_id = open_experiment(client, experiment)
        run_tags = {tags.STUDY: study, tags.CODE_VERSION: code_version(), **(provenance or {})}
        run_tags[tags.GIT_COMMIT] = run_tags[tags.CODE_VERSION].removesuffix("-dirty")
        parent_tags = {
            **run_tags,
            tags.STORAGE: storage,
            tags.ALGORITHM: algorithm,
            tags.LOG_MODELS: str(log_model).lower(),
        }
        parent_run_id = open_parent(client, experiment_id, sweep, parent_tags)
        return cls(
            client,
            experiment_id,
            parent_run_id,
            sweep,
            run_tags,
            storage=storage,
            log_model=log_model,
            snapshots=snapshots,
        )

    @classmethod
    def find(cls, client: MlflowClient, sweep: str, snapshots: SnapshotWriter | None = None) -> SweepRecord:
        """A sweep recorded before, from its parent run's tags: trial runs get the tags the sweep ran with
        (its code version), not this checkout's."""
        parent = find_parent(client, sweep)
        if parent is None:
            raise UserError(
                f"no sweep named {sweep!r} in {client.tracking_uri}; `mixup-tune run SPEC` starts one"
            )
        recorded = parent.data.tags
        run_tags = {
            key: recorded[key]
            for key in (tags.STUDY, tags.CODE_VERSION, tags.GIT_COMMIT, tags.PLUGINS)
            if key in recorded
        }
        return cls(
            client,
            parent.info.experiment_id,
            parent.info.run_id,
            sweep,
            run_tags,
            storage=recorded.get(tags.STORAGE, ""),
            log_model=recorded.get(tags.LOG_MODELS) == "true",
            snapshots=snapshots,
        )

    def __getstate__(self) -> dict[str, Any]:
        # Ray pickles the Tune callback, and this record with it, with the experiment state. The client
        # and the caches are rebuilt from MLflow, which is the record. Unwritten metrics are not lost:
        # Ray's storage holds them, and sync backfills.
        caches: dict[str, Any] = {
            "_runs": {},
            "_last_epoch": {},
            "_nodes": {},
            "_pending": {},
            "_flushed_at": {},
            "_sweep_runs": None,
        }
        return {**self.__dict__, "offline_reason": None, "_client": None, **caches}

    def fresh(self) -> SweepRecord:
        """A copy with no cached runs, which reads MLflow afresh: Ray trial ids are only unique within one Ray
        experiment."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__getstate__())
        return copy

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self._client = MlflowClient(self.tracking_uri)
        return self._client

    # The parent run.

    def save_spec(self, document: dict[str, Any]) -> None:
        """The spec the sweep runs with, as an artifact of the parent run."""
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / SPEC_ARTIFACT
            path.write_text(yaml.safe_dump(document, sort_keys=False))
            self.client.log_artifact(self.parent_run_id, str(path))
        self.swept = swept_in(document)

    def save_code(self, sources: list[tuple[str, str]], diff: str | None) -> None:
        """What the sweep runs beyond the package's commit, as artifacts of the parent run: the plugins'
        source files (``sources``: artifact folder, local file) and the uncommitted ``diff`` (code.diff)."""
        for folder, source in sources:
            self.client.log_artifact(self.parent_run_id, source, folder)
        if diff:
            with tempfile.TemporaryDirectory() as directory:
                path = Path(directory) / CODE_DIFF_ARTIFACT
                path.write_text(diff)
                self.client.log_artifact(self.parent_run_id, str(path))

    def read_spec(self) -> dict[str, Any]:
        """The spec document the sweep last ran with (not validated here: ``mixup_tune.spec`` does that)."""
        with tempfile.TemporaryDirectory() as directory:
            try:
                path = self.client.download_artifacts(self.parent_run_id, SPEC_ARTIFACT, directory)
            except Exception as error:
                raise UserError(f"sweep {self.sweep!r}: its spec artifact cannot be read ({error})") from None
            document: dict[str, Any] = yaml.safe_load(Path(path).read_text())
        return document

    def set_trial_count(self, count: int) -> None:
        """How many trials the sweep has, finished ones included: `mixup-tune status` counts against it."""
        self.client.set_tag(self.parent_run_id, tags.TRIALS, str(count))

    def close(self, status: str) -> None:
        """End the sweep's record: trial runs still RUNNING become KILLED, the parent run ends as
        ``status``."""
        self.close_trial_runs()
        self.client.set_terminated(self.parent_run_id, status)

    def close_trial_runs(self) -> None:
        """Mark the sweep's trial runs still RUNNING as KILLED: each reopens when its trial runs again.

        Only those are read: reading every trial run took 33 s and 280 MB at a sweep's end at 10,000 trials,
        1.8 s and 50 MB for none RUNNING (BENCHMARKS.md)."""
        running = find_runs(
            self.client, self.sweep, "trial", experiment_ids=[self.experiment_id], status="RUNNING"
        )
        for run in running:
            self.client.set_terminated(run.info.run_id, "KILLED")

    # The trial runs.

    def _find_trial_runs(self) -> list[Run]:
        return find_runs(self.client, self.sweep, "trial", experiment_ids=[self.experiment_id])

    def trial_runs(self) -> dict[str, Run]:
        """The sweep's trial runs, by trial key."""
        return {run.data.tags[tags.TRIAL_ID]: run for run in self._find_trial_runs()}

    def finished_runs(self) -> list[Run]:
        """The trial runs that ended FINISHED: a re-run of the sweep skips them, the black-box phase evaluates
        them."""
        return [run for run in self._find_trial_runs() if run.info.status == "FINISHED"]

    def finished_keys(self) -> set[str]:
        return {run.data.tags[tags.TRIAL_ID] for run in self.finished_runs()}

    def _swept(self) -> list[str]:
        """The options the sweep varies: from the spec saved this run, else (``sync``, or a record unpickled
        from Ray's state of an older sweep) from the spec the sweep last ran with."""
        if getattr(self, "swept", None) is None:
            try:
                self.swept = swept_in(self.read_spec())
            except UserError:  # no spec artifact: the runs are named by the sweep and their key
                self.swept = []
        return self.swept or []

    def run_id(self, trial: TrialLike) -> str:
        """The trial's MLflow run, reopened (found by its trial key) or created the first time the trial is
        seen."""
        if trial.trial_id not in self._runs:
            self._runs[trial.trial_id] = self._open_run(trial)
        return self._runs[trial.trial_id]

    def _open_run(self, trial: TrialLike) -> str:
        key = trial_key(trial.config)
        if self._sweep_runs is None:  # one search for the whole sweep, not one per trial (tens of ms each)
            self._sweep_runs = self.trial_runs()
        existing = self._sweep_runs.pop(key, None)  # popped: a run opened here is in self._runs from now on
        if existing is not None:
            run_id = existing.info.run_id
            self.client.update_run(run_id, status="RUNNING")
            history = self.client.get_metric_history(
                run_id, PROGRESS_METRIC[TrainConfig.from_dict(trial.config).task]
            )
            self._last_epoch[run_id] = max((int(m.step) for m in history), default=0)
            self._nodes[run_id] = [n for n in existing.data.tags.get(tags.NODE_IDS, "").split(",") if n]
        else:
            run_tags = {
                tags.SWEEP: self.sweep,
                tags.ROLE: "trial",
                tags.TRIAL_ID: key,
                tags.PARENT_RUN: self.parent_run_id,
            }
            name = setting_name(trial.config, self._swept()) or f"{self.sweep}-{key[:8]}"
            run_id = self.client.create_run(self.experiment_id, run_name=name, tags=run_tags).info.run_id
            self.client.log_batch(run_id, params=mlflow_params(trial.config))
            self._last_epoch[run_id] = 0
        run_tags = {
            **self.run_tags,
            tags.RAY_TRIAL_ID: trial.trial_id,
            tags.FAILURES: str(trial.num_failures),
        }
        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in run_tags.items()])
        return run_id

    def log_results(self, trial: TrialLike, results: list[dict[str, Any]], defer: bool = False) -> int:
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
            # every metric the trainable reported, known here or not (a plugin's, a new one): by its own name
            metrics += [
                Metric(name, float(value), timestamp, epoch)
                for name, value in result.items()
                if is_metric(name, value) and self._loggable(name)
            ]
            if "dataset_digest" in result:  # what the trial trained on: MLflow's dataset view shows it
                self.client.log_inputs(run_id, datasets=[dataset_input(result)])
            described = {tag: str(result[key]) for key, tag in _INPUT_TAGS.items() if key in result}
            if described:  # what the model was fed: the first epoch says
                self.client.log_batch(run_id, tags=[RunTag(tag, value) for tag, value in described.items()])
            if result.get("snapshots"):  # a GAN trial's generated points, as artifacts
                assert self.snapshots is not None, "a GAN sweep's record is opened with a snapshot writer"
                self.snapshots(
                    self.client, run_id, result["snapshots"], TrainConfig.from_dict(trial.config).gan.target
                )
            last, logged = epoch, logged + 1
        if moved:
            self.client.set_tag(run_id, tags.NODE_IDS, ",".join(nodes))
        self._last_epoch[run_id] = last
        self._pending.setdefault(run_id, []).extend(metrics)
        never_written = run_id not in self._flushed_at  # a run's first epoch shows at once
        if not defer or never_written or time.monotonic() - self._flushed_at[run_id] >= FLUSH_INTERVAL_S:
            self.flush(run_id)
        return logged

    def _loggable(self, name: str) -> bool:
        """Whether MLflow takes ``name`` as a metric's; one that it would refuse (and with it the whole batch)
        is left out with one warning, not the sweep's record."""
        known: dict[str, bool] = self.__dict__.setdefault("_metric_names", {})  # none in an older pickle
        if name not in known:  # each key checked once, not every epoch
            known[name] = metric_name_ok(name)
            if not known[name]:
                print(
                    f"mixup-tune: warning: the result key {name!r} is not an MLflow metric name; not logged",
                    file=sys.stderr,
                )
        return known[name]

    def flush(self, run_id: str | None = None) -> None:
        """Write the held-back epoch metrics of one run, or of every run."""
        for run in [run_id] if run_id is not None else list(self._pending):
            metrics = self._pending.pop(run, [])
            for start in range(0, len(metrics), _METRICS_PER_BATCH):
                self.client.log_batch(run, metrics=metrics[start : start + _METRICS_PER_BATCH])
            self._flushed_at[run] = time.monotonic()

    def complete(
        self, trial: TrialLike, result: dict[str, Any], model_state: Callable[[], Any] | None = None
    ) -> None:
        """A trial that ended: its final metrics from its last ``result``, whether it diverged, and FINISHED.

        ``model_state`` reads the trial's last checkpoint (a dict with its
        ``config`` and ``model``); only the weights and config are logged,
        and only when the sweep logs models.
        """
        run_id = self.run_id(trial)
        self.flush(run_id)
        final: dict[str, float] = {}
        if "test_error" in result:
            final = {
                "best_test_error": result["best_test_error"],
                "last_test_error": result["test_error"],
                "labels_changed": result["labels_changed"],
            }
        epoch = int(result.get("epoch", 0))
        timestamp = int(time.time() * 1000)
        diverged = bool(result.get("diverged"))
        self.client.log_batch(
            run_id,
            metrics=[
                Metric(name, float(value), timestamp, epoch)
                for name, value in final.items()
                if value is not None and not math.isnan(value)
            ],
            tags=[RunTag(tags.DIVERGED, "true")] if diverged else [],
        )
        if "reliability" in result:  # the last evaluation's confidence bins: reliability diagrams
            self.client.log_dict(run_id, {"epoch": epoch, **result["reliability"]}, RELIABILITY_ARTIFACT)
        if self.log_model and model_state is not None:
            self._log_model(run_id, model_state())
        self.client.set_terminated(run_id, "FINISHED")

    def _log_model(self, run_id: str, state: Any) -> None:
        """The final weights and config only: a fraction of the checkpoint, readable without Ray
        (``records.load_trained``)."""
        import torch  # here: only sweeps that log models pay for it

        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / MODEL_FILE
            torch.save({"config": state["config"], "model": state["model"]}, path)
            self.client.log_artifact(run_id, str(path), MODEL_DIR)

    def fail(self, trial: TrialLike, error: str) -> None:
        """A trial that ended in error, after its retries: the end of its traceback, its failed attempts,
        FAILED."""
        run_id = self.run_id(trial)
        self.flush(run_id)
        self.client.log_batch(
            run_id,
            tags=[
                RunTag(tags.ERROR, error),
                RunTag(tags.ERROR_LINE, error_line(error)),
                RunTag(tags.FAILURES, str(trial.num_failures)),
            ],
        )
        self.client.set_terminated(run_id, "FAILED")

    def count_failure(self, trial: TrialLike) -> None:
        """The trial failed and Ray will retry it (``max_failures``): count the attempt."""
        self.client.set_tag(self.run_id(trial), tags.FAILURES, str(trial.num_failures))

    def guarded(self, write: Callable[[], object]) -> None:
        """One write during the sweep. A failure must not stop the sweep: stop writing, say so once."""
        if self.offline_reason is not None:
            return
        try:
            write()
        except Exception as error:  # whatever the store raised: the trials' results are safe in Ray's storage
            self.offline_reason = f"{type(error).__name__}: {first_line(error)}"
            print(
                f"mixup-tune: MLflow stopped answering ({self.offline_reason}); trials go on and their "
                "results stay in Ray's storage; "
                f"they are copied to MLflow at the end of the sweep, by `mixup-tune resume {self.sweep}` or "
                f"by `mixup-tune sync {self.sweep}`",
                file=sys.stderr,
            )
