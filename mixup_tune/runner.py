"""Run or resume a sweep: checks, Ray Tune, then the sweep's MLflow record closed once.

Order matters. Everything that can be wrong with the user's input (the spec,
the data, the tracking server) is checked before the first MLflow run is
created, so bad input leaves nothing half-written.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from mlflow.tracking import MlflowClient
from ray import tune
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

from .checks import check_while_ray_starts
from .errors import UserError
from .live import LiveView, configure, stop_drawing
from .optuna_study import open_storage, storage_url
from .provenance import provenance_tags, runtime_env, source_files, uncommitted_diff, worker_modules
from .ray_internals import repair_lost_checkpoints, result_files_left_unread, warn_of
from .ray_session import (
    DEFAULT_STORAGE,
    connect_ray,
    environment,
    experiment_dir,
    gpus_per_trial,
    storage_root,
)
from .records import (
    SweepRecord,
    check_tracking,
    configure_mlflow_client,
    error_line,
    tags,
    trial_key,
)
from .records.lease import SweepLease, lease_ttl_s, wait_for_lease
from .search import (
    grid_points,
    param_space,
    scheduler,
    searcher,
    sweep_size,
    swept_options,
    with_absolute_paths,
)
from .selection import selection_summary
from .snapshots import SnapshotDrawer, snapshot_writer
from .spec import SpecError, SweepSpec, validate_spec
from .sweep_end import (
    SweepDrawing,
    SweepOutcome,
    best_finished,
    count_trials,
    finish,
    has_unfinished_trials,
)
from .sync import SyncReport, UnreadableStorage, sync_sweep
from .tracking import CHECKPOINT_FILE, MlflowSweepCallback, mixup_trial, threads_per_trial


def run_sweep(
    spec: SweepSpec,
    tracking_uri: str,
    address: str | None = None,
    storage: str | None = None,
    verbose: int = 1,
    check_data_locally: bool = True,
    restore: bool = False,
    drawing: SweepDrawing | None = None,
) -> SweepOutcome:
    """Run every trial of ``spec`` not already FINISHED in MLflow; ``drawing`` is what its record draws (the
    CLI hands in the analysis's).

    With ``restore`` (``mixup-tune resume``), unfinished trials continue from
    their last checkpoint in Ray's storage when it holds any; ``run`` always
    starts from the spec as given, so an edited spec is never overridden by
    Ray's saved state.
    """
    started = time.monotonic()
    drawing = drawing or SweepDrawing()
    configure_mlflow_client()
    # Inside a Ray job (`ray job submit`) Ray sets RAY_ADDRESS to the job's cluster, which ray.init joins: a
    # cluster, as with --address (nothing is started here, and its nodes load their own data).
    address = address or os.environ.get("RAY_ADDRESS") or None
    spec = with_absolute_paths(spec)
    root = storage_root(storage)
    sweep_dir = experiment_dir(storage, spec.name)
    check_local = check_data_locally and address is None
    if address is not None:  # a cluster that refuses us (address, token) does so before anything is written
        connect_ray(address, runtime_env(spec))
    optuna_url = storage_url(spec, tracking_uri, root) if spec.tune.algorithm == "optuna" else ""
    ttl_s = lease_ttl_s()

    def claim(client: MlflowClient) -> tuple[SweepRecord, SweepLease]:
        """One driver per sweep (records.lease): a live one is never disturbed, a dead one's sweep is taken
        over. The lease is read back here, before the Tuner is made: that writes Ray's storage (tuner.pkl),
        which a driver that lost the lease must leave alone. For ``run`` that is while a local Ray starts,
        so the settling time is off the sweep's path; ``resume`` may wait for a lease to lapse, which it does
        once Ray is up (Ctrl-C stops it)."""
        if optuna_url:
            open_storage(optuna_url)  # a storage that cannot be opened is refused before the record exists
        wait_for_lease(client, spec.name, wait=restore)
        record = SweepRecord.start(
            client,
            spec.name,
            spec.experiment_name,
            study=spec.study,
            storage=sweep_dir,
            algorithm=spec.tune.algorithm,
            log_model=spec.logs_models,
            snapshots=snapshot_writer(drawing.draw_snapshot),
            provenance=provenance_tags(spec),
        )
        if not restore:  # at once, for `status`: the parent may stand a while before Tune starts
            record.set_trial_count(sweep_size(spec))
        lease = SweepLease(client, record.parent_run_id, spec.name, ttl_s).take()
        try:
            record.save_spec(spec.model_dump(mode="json"))
            record.client.set_tag(record.parent_run_id, tags.SELECTION, selection_summary(spec))
            dirty = record.run_tags[tags.CODE_VERSION].endswith("-dirty")
            record.save_code(source_files(spec), uncommitted_diff() if dirty else None)
            lease.confirm()
        except BaseException:
            lease.release()
            raise
        return record, lease

    def abandon(claimed: tuple[SweepRecord, SweepLease]) -> None:
        """Ray did not start after all: the sweep's record ends FAILED, its lease is given back."""
        record, lease = claimed
        lease.release()
        record.close("FAILED")

    if restore:
        client = check_while_ray_starts(spec, tracking_uri, address, check_local, claim=lambda client: client)
        record, lease = claim(client)
    else:
        record, lease = check_while_ray_starts(spec, tracking_uri, address, check_local, claim, abandon)
    try:
        outcome = SweepOutcome(
            spec.name,
            tracking_uri,
            spec.experiment_name,
            record.experiment_id,
            record.parent_run_id,
            sweep_dir,
        )
        return _run_trials(
            spec, record, lease, outcome, started, address, root, verbose, restore, optuna_url, drawing
        )
    finally:
        lease.release()


def _run_trials(
    spec: SweepSpec,
    record: SweepRecord,
    lease: SweepLease,
    outcome: SweepOutcome,
    started: float,
    address: str | None,
    root: str,
    verbose: int,
    restore: bool,
    optuna_url: str,
    drawing: SweepDrawing,
) -> SweepOutcome:
    """The leased part of ``run_sweep``: MLflow caught up with Ray's storage, then Tune, then the record
    closed."""
    sweep_dir = outcome.storage
    if tune.Tuner.can_restore(sweep_dir):
        # An earlier run of this sweep left results in Ray's storage: MLflow catches up with them first,
        # so that finished trials are not run again and runs a dead driver left RUNNING are reconciled.
        try:
            outcome.add(sync_sweep(record, sweep_dir))
        except UnreadableStorage as error:  # nothing to catch up from: the sweep itself can still run
            print(f"mixup-tune: warning: {error}; MLflow is not updated from it", file=sys.stderr)
        else:  # a dead driver's runs of trials Ray has not finished: KILLED, until their trials run again
            record.close_trial_runs()

    restore = restore and tune.Tuner.can_restore(sweep_dir) and has_unfinished_trials(sweep_dir)
    if optuna_url:
        outcome.optuna_storage = optuna_url
        record.client.set_tag(record.parent_run_id, tags.OPTUNA_STORAGE, optuna_url)
    if not restore:
        done = record.finished_keys()
        search_alg, outcome.planned = searcher(
            spec, skip=done, key=trial_key, optuna_storage=outcome.optuna_storage
        )
        # the grid's trials found FINISHED (runs of points no longer in the grid are not counted)
        outcome.skipped = len(grid_points(spec)) - outcome.planned if spec.tune.algorithm == "grid" else 0
        record.set_trial_count(outcome.planned + outcome.skipped)
        if outcome.planned == 0:  # everything already FINISHED: nothing to start Ray for
            return finish(record, outcome, started, spec, drawing)
    connect_ray(address, runtime_env(spec))
    trainable = tune.with_resources(
        tune.with_parameters(
            mixup_trial,
            checkpoint_interval_s=spec.tune.checkpoint_interval_s,
            plugins=worker_modules(spec),
            threads=threads_per_trial(spec.resources.cpu),
        ),
        {"cpu": spec.resources.cpu, "gpu": gpus_per_trial(spec.resources.gpu)},
    )
    try:
        if restore:
            # A previous driver died or was stopped: Ray's own restore brings back
            # checkpoints and the pickled MlflowSweepCallback, which finds its runs again by their tags.
            # First, a checkpoint it still names but deleted before it died is replaced by a newer one.
            warn_of(repair_lost_checkpoints(sweep_dir, CHECKPOINT_FILE))
            tuner = tune.Tuner.restore(sweep_dir, trainable, resume_unfinished=True, resume_errored=True)
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
                    num_samples=outcome.planned if spec.tune.algorithm != "random" else spec.tune.num_samples,
                    max_concurrent_trials=spec.tune.max_concurrent_trials
                    if spec.tune.algorithm == "optuna"
                    else None,
                    # A new worker per trial costs seconds of imports; reuse is safe because
                    # each trial reseeds every generator it uses (trainables.tasks.classify.Trial).
                    reuse_actors=True,
                ),
                run_config=tune.RunConfig(
                    name=spec.name,
                    storage_path=root,
                    failure_config=tune.FailureConfig(max_failures=spec.tune.max_failures),
                    checkpoint_config=tune.CheckpointConfig(num_to_keep=spec.tune.keep_checkpoints),
                    # Ray's own result files (its analysis and `sync` read result.json), but
                    # not its TensorBoard files: MLflow is the UI, and they cost ~2 ms per result.
                    callbacks=[MlflowSweepCallback(record), CSVLoggerCallback(), JsonLoggerCallback()],
                    # always 1, so that Ray calls the live view: `configure` decides whether it shows,
                    # for this run and for a `resume` that gets it back unpickled from Ray's state
                    verbose=1,
                    progress_reporter=LiveView(
                        spec.name,
                        spec.tune.metric,
                        spec.tune.mode,
                        swept_options(spec),
                        outcome.skipped,
                        best_finished(record, spec)[0] if outcome.skipped else None,
                    ),
                ),
            )
        configure(quiet=verbose == 0)
        try:
            with (
                environment(TUNE_DISABLE_AUTO_CALLBACK_LOGGERS="0" if restore else "1"),
                result_files_left_unread(),  # its ResultGrid is read for errors only
            ):
                results = tuner.fit()
        finally:
            stop_drawing()
        outcome.errors = [error_line(str(error)) for error in results.errors]
        # Tune's trials in memory (every result, and Ray's statistics of it) are let go before the sweep's
        # end reads Ray's saved state and MLflow back, so that the two do not add up at the driver's peak
        # (BENCHMARKS.md, 10,000 trials)
        del tuner, results
        count_trials(outcome, sweep_dir)
    except KeyboardInterrupt:
        outcome.interrupted = True
    return finish(record, outcome, started, spec, drawing, replay=restore)


def sync_recorded_sweep(
    tracking_uri: str, name: str, storage: str | None = None, draw_snapshot: SnapshotDrawer | None = None
) -> SyncReport:
    """``mixup-tune sync``: backfill MLflow from Ray's storage, then close the record as Ray's state says."""
    configure_mlflow_client()
    client = check_tracking(tracking_uri)
    record = SweepRecord.find(client, name, snapshots=snapshot_writer(draw_snapshot))
    if tags.PLUGINS in record.run_tags:  # its trials' keys name the plugins' code: import it first
        load_sweep_spec(client, name)
    sweep_dir = experiment_dir(storage, name) if storage else record.storage
    if not sweep_dir or not tune.Tuner.can_restore(sweep_dir):
        raise UserError(
            f"sweep {name!r}: no Ray results at {sweep_dir or '(none recorded)'}; pass --storage where the "
            "sweep wrote them"
        )
    ttl_s = lease_ttl_s()
    wait_for_lease(client, name, wait=False)  # the live sweep's own driver copies its results
    lease = SweepLease(client, record.parent_run_id, name, ttl_s).take()
    try:
        lease.confirm()
        try:
            report = sync_sweep(record, sweep_dir)
        except UnreadableStorage as error:
            raise UserError(f"sweep {name!r}: {error}") from None
        record.close("KILLED" if report.unfinished else "FAILED" if report.failed else "FINISHED")
    finally:
        lease.release()
    return report


def load_sweep_spec(client: MlflowClient, name: str) -> tuple[SweepSpec, str]:
    """The spec a sweep was last run with (validated here, once), and the Ray storage root it ran with, from
    its parent run."""
    record = SweepRecord.find(client, name)
    try:
        spec = validate_spec(record.read_spec(), source=f"sweep {name!r}")
    except SpecError as error:
        raise UserError(str(error)) from None
    return spec, str(Path(record.storage or DEFAULT_STORAGE).parent)
