"""Run or resume a sweep: checks, Ray Tune, then MLflow's records closed cleanly.

Order matters. Everything that can be wrong with the user's input (the spec,
the data, the tracking server) is checked before the first MLflow run is
created, so bad input leaves nothing half-written.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from mlflow.tracking import MlflowClient

from trainables import DatasetError
from trainables.errors import first_line

from .records import tags
from .errors import UserError
from .records import check_tracking, configure_mlflow_client, find_parent
from .search import param_space, scheduler, searcher
from .spec import SpecError, SweepSpec, grid_points, validate_spec
from .sync import SyncReport, UnreadableStorage, sync_sweep
from .tracking import (
    MlflowSweepCallback,
    close_open_runs,
    code_version,
    finished_trial_keys,
    get_or_create_experiment,
    get_or_create_parent,
    trial_key,
)
from .trainable import mixup_trial

SPEC_ARTIFACT = "spec.yaml"
DEFAULT_STORAGE = "mixup_tune_results"  # Ray's storage for trial checkpoints and results, under the working directory


@dataclass
class SweepOutcome:
    name: str
    tracking_uri: str
    experiment: str
    experiment_id: str
    parent_run_id: str
    storage: str
    planned: int = 0
    skipped: int = 0  # already FINISHED in MLflow from an earlier run of this sweep
    completed: int = 0
    failed: int = 0
    diverged: int = 0
    interrupted: bool = False
    black_box_targets: int = 0  # trials evaluated on the surrogate's adversarial examples
    wall_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    backfilled_epochs: int = 0  # epoch results copied from Ray's storage to MLflow (the store was down, or the driver died)
    backfilled_runs: int = 0  # runs created that way
    reconciled: int = 0  # runs a dead driver had left RUNNING
    tracking_error: str | None = None  # MLflow could not be written at the end: `mixup-tune sync` later

    def add(self, report: SyncReport, counted: bool = True) -> None:
        self.backfilled_epochs += report.epochs_logged
        self.backfilled_runs += report.runs_created
        if counted:  # at the start of a run: runs still RUNNING were left so by a dead driver
            self.reconciled += report.reconciled


_PATH_OPTIONS = ("data_root", "data_path")
_DATA_OPTIONS = ("dataset", *_PATH_OPTIONS, "train_subset", "val_fraction", "download")  # what load_data is given


def _absolute_paths(spec: SweepSpec) -> SweepSpec:
    """Trials run in their own working directory: make user paths absolute first, wherever the spec gives them."""
    document = spec.model_dump(mode="json")
    absolute = lambda path: str(Path(path).expanduser().resolve()) if isinstance(path, str) and path else path  # noqa: E731
    for key in _PATH_OPTIONS:
        document["trainable"][key] = absolute(document["trainable"].get(key))
        if isinstance(document["search"].get(key), list):
            document["search"][key] = [absolute(path) for path in document["search"][key]]
        for variant in document["variants"]:
            if key in variant:
                variant[key] = absolute(variant[key])
    return validate_spec(document, source=spec.name)


def data_settings(spec: SweepSpec) -> list[dict[str, Any]]:
    """Each distinct set of data options (``_DATA_OPTIONS``) that the sweep's trials can have: the grid's,
    or for random search and Optuna those of the data axes given as lists or choices."""
    if spec.tune.algorithm == "grid":
        points = grid_points(spec)
    else:
        base = spec.trainable.flat()
        axes = {key: value if isinstance(value, list) else value.choice for key, value in spec.search.items()
                if key in _DATA_OPTIONS and (isinstance(value, list) or value.choice is not None)}  # fmt: skip
        points = [{**base, **dict(zip(axes, combo))} for combo in itertools.product(*axes.values())]
    settings = {tuple(point.get(key) for key in _DATA_OPTIONS): None for point in points}
    return [dict(zip(_DATA_OPTIONS, setting)) for setting in settings]


def _check_data(spec: SweepSpec) -> None:
    """Load every dataset setting the sweep names once, here: bad data fails before any run, and the trials find the cache filled."""
    from trainables import load_data
    from trainables.data import STREAMED

    if spec.trainable.task == "gan":  # toy distributions, drawn in the trial: no files
        return
    for setting in data_settings(spec):
        try:
            if setting["dataset"] in STREAMED:  # too big to load here: list its files instead
                from trainables.data.streaming import scan

                scan(setting["data_path"] or "")
                continue
            load_data(**setting)
        except DatasetError as error:
            raise UserError(str(error)) from None


def connect_ray(address: str | None) -> None:
    import ray
    from ray.exceptions import AuthenticationError

    if ray.is_initialized():
        return
    # The classic reporter: one compact table of the sweep's axes and errors, not a box per result.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    try:
        # Trial stdout stays in Ray's session logs; the driver shows the progress table.
        with _stderr_kept_unless_failing(enabled=address is not None):
            # A local Ray would start a Python worker per CPU as the driver connects; Tune starts
            # its trial actors in workers of their own, so those would only compete for the CPUs
            # while Ray starts (0.7 s of a tiny sweep's 12 s on 2 cores, BENCHMARKS.md).
            local = {"_system_config": {"prestart_worker_first_driver": False}} if address is None else {}
            ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False, **local)
    except (AuthenticationError, ConnectionError, RuntimeError, ValueError) as error:
        reason = first_line(error)
        if address is not None and "RAY_AUTH_MODE" not in os.environ:
            reason += " (a cluster started with `ray start` needs RAY_AUTH_MODE=token and its token, in RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH)"
        raise UserError(f"cannot connect to Ray at {address or 'a new local instance'}: {reason}") from None


def stop_ray() -> None:
    """``ray.shutdown()``, less the second it spends on a local Ray's autoscaler monitor.

    ``ray.shutdown`` stops Ray's processes one after another, the GCS before the
    monitor. The monitor's SIGTERM handler then tries to write its exit reason
    to the GCS that is gone, until Ray gives up on it after 1 s and kills it:
    a second at the end of every command that started a sweep. A local Ray's
    monitor is killed first, through Ray's own handle on the processes it
    started; nothing is done to a cluster's.
    """
    import ray

    if not ray.is_initialized():
        return
    # The driver's node. It holds Ray's processes only when ray.init started them here; connected
    # to a cluster it holds none, and kill_monitor does nothing.
    node = getattr(ray._private.worker, "_global_node", None)
    if node is not None and hasattr(node, "kill_monitor"):
        node.kill_monitor(check_alive=False)
    ray.shutdown()


@contextmanager
def _stderr_kept_unless_failing(enabled: bool) -> Iterator[None]:
    """Hold back what is written to stderr (by C++ too) until the block ends; drop it if the block raises.

    Joining a cluster that refuses the client, Ray's C++ GCS client logs a
    warning for every retry, for ~20 s; the one-line error says it once. Not
    for a local start: the processes it spawns would inherit the held fd.
    """
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        held.seek(0)
        sys.stderr.buffer.write(held.read())
        sys.stderr.flush()


def gpus_per_trial(spec: SweepSpec) -> float:
    import ray

    if spec.resources.gpu == "auto":
        return 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
    return float(spec.resources.gpu)


def run_sweep(
    spec: SweepSpec,
    tracking_uri: str,
    address: str | None = None,
    storage: str | None = None,
    verbose: int = 1,
    check_data_locally: bool = True,
    restore: bool = False,
) -> SweepOutcome:
    """Run every trial of ``spec`` not already FINISHED in MLflow.

    With ``restore`` (``mixup-tune resume``), unfinished trials continue from
    their last checkpoint in Ray's storage when it holds any; ``run`` always
    starts from the spec as given, so an edited spec is never overridden by
    Ray's saved state.
    """
    from ray import tune
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    started = time.monotonic()
    configure_mlflow_client()
    spec = _absolute_paths(spec)
    storage_root = _storage_root(storage)
    experiment_dir = f"{storage_root.rstrip('/')}/{spec.name}"
    if address is not None:  # a cluster that refuses us (address, token) does so before anything is written
        connect_ray(address)
    client = _check_while_ray_starts(spec, tracking_uri, address, check_data=check_data_locally and address is None)

    experiment_id = get_or_create_experiment(client, spec.experiment_name, tracking_uri)
    run_tags = {tags.STUDY: spec.study, tags.CODE_VERSION: code_version()}
    run_tags[tags.GIT_COMMIT] = run_tags[tags.CODE_VERSION].removesuffix("-dirty")
    parent_tags = {**run_tags, tags.STORAGE: experiment_dir, "mixup_tune.algorithm": spec.tune.algorithm, tags.LOG_MODELS: str(spec.logs_models).lower()}
    parent_run_id = get_or_create_parent(client, experiment_id, spec.name, parent_tags)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / SPEC_ARTIFACT
        path.write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
        client.log_artifact(parent_run_id, str(path))
    outcome = SweepOutcome(spec.name, tracking_uri, spec.experiment_name, experiment_id, parent_run_id, experiment_dir)
    callback = MlflowSweepCallback(tracking_uri, experiment_id, parent_run_id, spec.name, run_tags, log_model=spec.logs_models)
    if tune.Tuner.can_restore(experiment_dir):
        # An earlier run of this sweep left results in Ray's storage: MLflow catches up with them first,
        # so that finished trials are not run again and runs a dead driver left RUNNING are reconciled.
        try:
            outcome.add(sync_sweep(client, callback, experiment_dir))
        except UnreadableStorage as error:  # nothing to catch up from: the sweep itself can still run
            print(f"mixup-tune: warning: {error}; MLflow is not updated from it", file=sys.stderr)

    restore = restore and tune.Tuner.can_restore(experiment_dir) and _has_unfinished_trials(experiment_dir)
    if not restore:
        done = finished_trial_keys(client, experiment_id, spec.name)
        search_alg, outcome.planned = searcher(spec, skip=done, key=trial_key)
        outcome.skipped = len(done) if spec.tune.algorithm == "grid" else 0
        if outcome.planned == 0:  # everything already FINISHED: nothing to start Ray for
            return _finish(client, callback, outcome, started, spec)
    connect_ray(address)
    trainable = tune.with_resources(
        tune.with_parameters(mixup_trial, checkpoint_interval_s=spec.tune.checkpoint_interval_s),
        {"cpu": spec.resources.cpu, "gpu": gpus_per_trial(spec)},
    )
    try:
        if restore:
            # A previous driver died or was stopped: Ray's own restore brings back
            # checkpoints and the pickled MlflowSweepCallback, which finds its runs again by their tags.
            tuner = tune.Tuner.restore(experiment_dir, trainable, resume_unfinished=True, resume_errored=True)
            outcome.planned = -1
        else:
            tuner = tune.Tuner(
                trainable,
                param_space=param_space(spec),
                tune_config=tune.TuneConfig(
                    metric=spec.tune.metric,
                    mode=spec.tune.mode,
                    search_alg=search_alg,
                    scheduler=scheduler(spec),
                    num_samples=outcome.planned if spec.tune.algorithm == "grid" else spec.tune.num_samples,
                    max_concurrent_trials=spec.tune.max_concurrent_trials if spec.tune.algorithm == "optuna" else None,
                    # A new worker per trial costs seconds of imports; reuse is safe because
                    # each trial reseeds every generator it uses (trainables.tasks.classify.Trial).
                    reuse_actors=True,
                ),
                run_config=tune.RunConfig(
                    name=spec.name,
                    storage_path=storage_root,
                    failure_config=tune.FailureConfig(max_failures=spec.tune.max_failures),
                    checkpoint_config=tune.CheckpointConfig(num_to_keep=spec.tune.keep_checkpoints),
                    # Ray's own result files (its analysis and `sync` read result.json), but
                    # not its TensorBoard files: MLflow is the UI, and they cost ~2 ms per result.
                    callbacks=[callback, CSVLoggerCallback(), JsonLoggerCallback()],
                    verbose=verbose,
                    progress_reporter=progress_reporter(spec),
                ),
            )
        with _environment(TUNE_DISABLE_AUTO_CALLBACK_LOGGERS="0" if restore else "1"):
            results = tuner.fit()
        outcome.errors = [first_line(r.error) for r in results if r.error is not None]
        _count_trials(outcome, experiment_dir)
    except KeyboardInterrupt:
        outcome.interrupted = True
    return _finish(client, callback, outcome, started, spec)


@contextmanager
def _environment(**variables: str) -> Iterator[None]:
    """Set Ray Tune's environment switches for one call, then put back what was there."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _check_while_ray_starts(spec: SweepSpec, tracking_uri: str, address: str | None, check_data: bool) -> MlflowClient:
    """The data and store checks, with a local Ray started meanwhile; returns the opened store.

    Starting Ray takes ~3 s, half of it waiting on the processes it spawns;
    the checks (loading the data, opening or for a new sqlite file creating
    the store) take up to as long again, so they run side by side.
    Ray starts on this thread (``ray.init`` from another thread hangs its
    tasks). The store is opened only once the data passed, and a tracking
    server is probed (well under a second) before Ray starts, so that bad
    input never creates a store. What Ray logs while it starts is held back
    until the checks pass, and dropped if they fail, so that bad input still
    gets one line; the CLI then stops Ray again, and no run has been created.
    """
    if address is not None:  # a cluster, joined before any check (its nodes load their own data)
        return check_tracking(tracking_uri)
    server = tracking_uri.startswith(("http://", "https://"))
    probed = check_tracking(tracking_uri) if server else None  # a dead server is refused before Ray starts

    def checks() -> MlflowClient:
        if check_data:
            _check_data(spec)
        return probed if probed is not None else check_tracking(tracking_uri)

    with ThreadPoolExecutor(max_workers=1) as pool, _ray_logs_held() as release:
        checked = pool.submit(checks)
        connect_ray(None)
        client = checked.result()
        release()
    return client


@contextmanager
def _ray_logs_held() -> Iterator[Any]:
    """Hold the records Ray's Python loggers write; ``release()`` writes them. Unreleased, they are dropped.

    Ray (imported with this module, through Tune) logs through the handlers of its "ray" logger.
    """
    held: list[logging.LogRecord] = []

    def hold(record: logging.LogRecord) -> bool:
        held.append(record)
        return False

    handlers = logging.getLogger("ray").handlers
    for handler in handlers:
        handler.addFilter(hold)

    def release() -> None:
        for handler in handlers:
            handler.removeFilter(hold)
        for record in held:
            logging.getLogger(record.name).handle(record)
        held.clear()

    try:
        yield release
    finally:
        for handler in handlers:
            handler.removeFilter(hold)


def _storage_root(storage: str | None) -> str:
    """Ray's storage root: a cloud URI as given, a local path made absolute (trials run in other directories)."""
    if storage is not None and "://" in storage:
        return storage
    return str(Path(storage or DEFAULT_STORAGE).expanduser().resolve())


def _count_trials(outcome: SweepOutcome, experiment_dir: str) -> None:
    """Count trial ends from Ray's saved experiment state: what `resume` will act on.

    After Ctrl-C, ``Tuner.fit`` returns normally and its in-memory results look
    terminated, while the saved state rightly keeps the unfinished trials PENDING.
    """
    from ray.tune import ExperimentAnalysis

    trials = ExperimentAnalysis(experiment_dir).trials
    for trial in trials:
        if trial.status == "ERROR":
            outcome.failed += 1
        elif trial.status != "TERMINATED":
            outcome.interrupted = True
        elif (trial.last_result or {}).get("diverged"):
            outcome.diverged += 1
        else:
            outcome.completed += 1
    if outcome.planned == -1:
        outcome.planned = len(trials)


def progress_reporter(spec: SweepSpec) -> Any:
    from ray.tune import CLIReporter

    metrics = {"epoch": "epoch", "test_error": "test err %", "train_error_real": "train err (real) %"}
    if spec.trainable.task == "gan":
        metrics = {"iteration": "iteration", "modes_covered": "modes", "high_quality": "high quality %", "sample_distance": "distance"}
    elif spec.trainable.label_noise > 0 or "label_noise" in spec.search:
        metrics["train_error_corrupted"] = "train err (corrupt) %"
    return CLIReporter(parameter_columns=list(spec.search) or ["alpha"], metric_columns=metrics, max_report_frequency=10, max_progress_rows=30)


def _has_unfinished_trials(experiment_dir: str) -> bool:
    """Whether Ray's saved state lists a trial that is not TERMINATED (so a restore has work to do)."""
    from ray.tune import ExperimentAnalysis

    try:
        trials = ExperimentAnalysis(experiment_dir).trials
    except Exception:  # unreadable or partial state: start the sweep afresh
        return False
    return any(trial.status != "TERMINATED" for trial in trials)


def _finish(client: MlflowClient, callback: MlflowSweepCallback, outcome: SweepOutcome, started: float, spec: SweepSpec) -> SweepOutcome:
    """Copy to MLflow what the callback could not log, run the evaluations that need the whole sweep, close the runs.

    If MLflow is still unreachable, every result stays in Ray's storage and the
    summary says how to copy it over later (``mixup-tune sync``).
    """
    from ray import tune

    try:
        if tune.Tuner.can_restore(outcome.storage):
            try:
                outcome.add(sync_sweep(client, callback, outcome.storage), counted=False)
            except UnreadableStorage as error:
                outcome.errors.append(str(error))
        if spec.black_box is not None and not outcome.interrupted:
            from .black_box import evaluate_black_box  # torch: imported only for the sweeps that need it

            try:
                outcome.black_box_targets = evaluate_black_box(client, outcome.experiment_id, spec)
            except Exception as error:  # the trials' records stand; report, do not lose them
                outcome.errors.append(f"black-box evaluation failed: {first_line(error)}")
                outcome.failed += 1
        status = "KILLED" if outcome.interrupted else "FAILED" if outcome.failed else "FINISHED"
        close_open_runs(client, outcome.experiment_id, outcome.name, "KILLED")
        client.set_terminated(outcome.parent_run_id, status)
    except Exception as error:  # MLflow is down: nothing is lost, Ray's storage holds it
        outcome.tracking_error = first_line(error)
    outcome.wall_seconds = time.monotonic() - started
    return outcome


def sync_recorded_sweep(tracking_uri: str, name: str, storage: str | None = None) -> SyncReport:
    """``mixup-tune sync``: backfill MLflow from Ray's storage, then close the parent run as Ray's state says."""
    configure_mlflow_client()
    client = check_tracking(tracking_uri)
    parent = find_parent(client, name)
    if parent is None:
        raise UserError(f"no sweep named {name!r} in {tracking_uri}; `mixup-tune run SPEC` starts one")
    parent_tags = parent.data.tags
    experiment_dir = f"{_storage_root(storage).rstrip('/')}/{name}" if storage else parent_tags.get(tags.STORAGE, "")
    from ray import tune

    if not experiment_dir or not tune.Tuner.can_restore(experiment_dir):
        raise UserError(f"sweep {name!r}: no Ray results at {experiment_dir or '(none recorded)'}; pass --storage where the sweep wrote them")
    # The trial runs get the tags the sweep ran with (its code version), not this checkout's.
    run_tags = {key: parent_tags[key] for key in (tags.STUDY, tags.CODE_VERSION, tags.GIT_COMMIT) if key in parent_tags}
    log_model = parent_tags.get(tags.LOG_MODELS) == "true"
    callback = MlflowSweepCallback(tracking_uri, parent.info.experiment_id, parent.info.run_id, name, run_tags, log_model=log_model)
    try:
        report = sync_sweep(client, callback, experiment_dir)
    except UnreadableStorage as error:
        raise UserError(f"sweep {name!r}: {error}") from None
    status = "KILLED" if report.unfinished else "FAILED" if report.failed else "FINISHED"
    client.set_terminated(parent.info.run_id, status)
    return report


def load_sweep_spec(client: MlflowClient, name: str) -> tuple[SweepSpec, dict[str, str]]:
    """The spec a sweep was last run with, from its parent run's artifact."""
    parent = find_parent(client, name)
    if parent is None:
        raise UserError(f"no sweep named {name!r} in {client.tracking_uri}; `mixup-tune run SPEC` starts one")
    with tempfile.TemporaryDirectory() as directory:
        try:
            path = client.download_artifacts(parent.info.run_id, SPEC_ARTIFACT, directory)
        except Exception as error:
            raise UserError(f"sweep {name!r}: its spec artifact cannot be read ({error})") from None
        document: dict[str, Any] = yaml.safe_load(Path(path).read_text())
    try:
        return validate_spec(document, source=f"sweep {name!r}"), parent.data.tags
    except SpecError as error:
        raise UserError(str(error)) from None
