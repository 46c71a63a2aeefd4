"""A sweep's end: its trials counted from Ray's saved state, what the callback could not log copied to MLflow,
the evaluations that need the whole sweep, the record closed, and the summary's best read back.

The drawing (the comparison of the runs, a GAN snapshot's panel) is the analysis's, which sits above the
driver: the CLI hands it in (``SweepDrawing``), and without it nothing is drawn.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mlflow.exceptions import MlflowException
from ray import tune

from trainables.errors import first_line

from .progress import SweepProgress, TrialProgress, value_text
from .ray_internals import saved_trial_ends
from .records import PROGRESS_METRIC, SweepRecord
from .search import swept_options
from .snapshots import SnapshotDrawer
from .spec import SweepSpec
from .status import recorded_trials
from .sync import SyncReport, UnreadableStorage, sync_sweep


@dataclass(frozen=True)
class SweepDrawing:
    """What a sweep's record draws, handed in by the CLI (which may import ``analysis``): the comparison of
    its runs at its end, logged to the parent run (``analysis.compare.log_comparison``'s signature), and the
    panel of a GAN trial's snapshot (``analysis.render.draw_snapshot``'s). None: not drawn."""

    compare: Callable[[str, str, str, str, str], object] | None = None
    draw_snapshot: SnapshotDrawer | None = None


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
    backfilled_epochs: int = (
        0  # epoch results copied from Ray's storage to MLflow (the store was down, or the driver died)
    )
    backfilled_runs: int = 0  # runs created that way
    reconciled: int = 0  # runs a dead driver had left RUNNING
    tracking_error: str | None = None  # MLflow could not be written at the end: `mixup-tune sync` later
    optuna_storage: str = ""  # an Optuna sweep's study storage, for optuna-dashboard
    # the best finished trial of the whole sweep, earlier runs of it included: (metric, value, its setting)
    best: tuple[str, str, str] | None = None
    finished_in_all: int = 0  # the sweep's FINISHED trials, earlier runs of it included

    def add(self, report: SyncReport, counted: bool = True) -> None:
        self.backfilled_epochs += report.epochs_logged
        self.backfilled_runs += report.runs_created
        if counted:  # at the start of a run: runs still RUNNING were left so by a dead driver
            self.reconciled += report.reconciled


def count_trials(outcome: SweepOutcome, sweep_dir: str) -> None:
    """Count trial ends from Ray's saved experiment state: what `resume` will act on.

    After Ctrl-C, ``Tuner.fit`` returns normally and its in-memory results look
    terminated, while the saved state rightly keeps the unfinished trials PENDING.
    """
    trials = saved_trial_ends(sweep_dir)
    for status, last_result in trials:
        if status == "ERROR":
            outcome.failed += 1
        elif status != "TERMINATED":
            outcome.interrupted = True
        elif last_result.get("diverged"):
            outcome.diverged += 1
        else:
            outcome.completed += 1
    if outcome.planned == -1:
        outcome.planned = len(trials)


def has_unfinished_trials(sweep_dir: str) -> bool:
    """Whether Ray's saved state lists a trial that is not TERMINATED (so a restore has work to do)."""
    try:
        trials = saved_trial_ends(sweep_dir)
    except Exception:  # unreadable or partial state: start the sweep afresh
        return False
    return any(status != "TERMINATED" for status, _ in trials)


def finish(
    record: SweepRecord,
    outcome: SweepOutcome,
    started: float,
    spec: SweepSpec,
    drawing: SweepDrawing,
    replay: bool = False,
) -> SweepOutcome:
    """Copy to MLflow what the callback could not log, run the evaluations that need the whole sweep, close
    the record.

    The callback logged everything unless the store failed mid-sweep (the
    record went offline), the sweep was stopped (epochs held back for a
    batch), or Ray restored the sweep (its callback is the one unpickled from
    the saved state, with a record of its own: ``replay``). Only then is Ray's
    storage replayed into MLflow. If MLflow is still unreachable, every
    result stays in Ray's storage and the summary says how to copy it over
    later (``mixup-tune sync``).
    """
    behind = replay or outcome.interrupted or record.offline_reason is not None
    try:
        if behind and tune.Tuner.can_restore(outcome.storage):
            try:
                outcome.add(sync_sweep(record, outcome.storage), counted=False)
            except UnreadableStorage as error:
                outcome.errors.append(str(error))
        if spec.black_box is not None and not outcome.interrupted:
            from .black_box import evaluate_black_box  # torch: imported only for the sweeps that need it

            try:
                outcome.black_box_targets = evaluate_black_box(record, spec)
            except Exception as error:  # the trials' records stand; report, do not lose them
                outcome.errors.append(f"black-box evaluation failed: {first_line(error)}")
                outcome.failed += 1
        if not outcome.interrupted and outcome.completed + outcome.skipped >= 2:
            _log_comparison(record, spec, drawing)
        record.close("KILLED" if outcome.interrupted else "FAILED" if outcome.failed else "FINISHED")
    except Exception as error:  # MLflow is down: nothing is lost, Ray's storage holds it
        outcome.tracking_error = first_line(error)
    else:
        _read_best(record, spec, outcome)
    outcome.wall_seconds = time.monotonic() - started
    return outcome


def _read_best(record: SweepRecord, spec: SweepSpec, outcome: SweepOutcome) -> None:
    """The summary's best, over every run of the sweep, read after the record is closed."""
    if record.offline_reason is not None:
        return
    try:
        best, outcome.finished_in_all = best_finished(record, spec)
    except MlflowException as error:  # the store went away after the close: the summary lacks its best row
        print(f"mixup-tune: warning: the sweep's best was not read: {first_line(error)}", file=sys.stderr)
        return
    if best is not None and best.value is not None:
        outcome.best = (spec.tune.metric, value_text(best.value), best.label)


def best_finished(record: SweepRecord, spec: SweepSpec) -> tuple[TrialProgress | None, int]:
    """The best of the sweep's FINISHED trials in MLflow, from every run of it, and how many there are."""
    progress_metric = PROGRESS_METRIC[spec.trainable.task]
    trials = recorded_trials(record, swept_options(spec), spec.tune.metric, progress_metric)
    finished = [trial for trial in trials if trial.status == "finished"]
    best = SweepProgress(spec.name, spec.tune.metric, spec.tune.mode, len(finished), 0.0, finished).best
    return best, len(finished)


def _log_comparison(record: SweepRecord, spec: SweepSpec, drawing: SweepDrawing) -> None:
    """The comparison figures and the table over seeds, on the parent run; a failure here only warns."""
    if drawing.compare is None:
        return
    try:
        drawing.compare(
            record.sweep, record.tracking_uri, spec.tune.metric, spec.tune.mode, record.parent_run_id
        )
    except Exception as error:  # the sweep's records stand without its figures; `analyze` draws them again
        print(
            f"mixup-tune: warning: the comparison figures were not logged: {first_line(error)}",
            file=sys.stderr,
        )
