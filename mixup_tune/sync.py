"""Copy a sweep's results from Ray's storage into its MLflow record.

Ray's storage holds each trial's config, every result it reported
(``result.json``), its checkpoints and how it ended. MLflow holds what the
driver managed to log. The two differ when the tracking store went down
mid-sweep, or when the driver was killed. ``sync_sweep`` replays the first
into the second through the sweep's ``SweepRecord``, so it adds only what is
missing: runs are found by their trial hash and logged epochs are skipped.
It is safe to run any number of times; the sweep's start and end, ``resume``
and ``mixup-tune sync`` all run it, and close the record themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from trainables import ConfigError
from trainables.errors import first_line

from .records import SweepRecord, trial_key
from .tracking import error_text, final_state

_TERMINAL = ("FINISHED", "FAILED")


class UnreadableStorage(Exception):
    """Ray's experiment state cannot be read (a partial write, another Ray version, a wrong path)."""


@dataclass
class SyncReport:
    trials: int = 0  # trials in Ray's storage
    runs_created: int = 0  # trials MLflow had no run for
    epochs_logged: int = 0  # epoch results MLflow lacked
    runs_ended: int = 0  # runs given the end Ray recorded (FINISHED or FAILED)
    # runs found RUNNING, left so by a driver that died or lost MLflow;
    # each ends as Ray says (KILLED if unfinished)
    reconciled: int = 0
    unfinished: int = 0  # trials Ray has not finished: `resume` runs them
    failed: int = 0  # trials that ended in error


def sync_sweep(record: SweepRecord, experiment_dir: str) -> SyncReport:
    """Bring the sweep's MLflow record up to date with Ray's stored results. Runs left RUNNING stay so: the
    caller closes the record."""
    from .ray_internals import saved_trials

    report = SyncReport()
    record = record.fresh()  # MLflow is the truth here, not what the sweep's callback believes it wrote
    runs = record.trial_runs()
    report.reconciled = sum(run.info.status == "RUNNING" for run in runs.values())
    try:
        trials = saved_trials(experiment_dir)
    except Exception as error:  # whatever Ray raises on a state it cannot load
        raise UnreadableStorage(
            f"Ray's storage at {experiment_dir} cannot be read ({first_line(error, 160)})"
        ) from None
    for trial in trials:
        try:
            key = trial_key(trial.config)
        except ConfigError:  # a trial of an older, incompatible version of this sweep: not ours to record
            continue
        report.trials += 1
        report.failed += trial.status == "ERROR"
        run = runs.get(key)
        if run is not None and run.info.status in _TERMINAL:
            continue
        results = stored_results(trial)
        ended = trial.status in ("TERMINATED", "ERROR")
        if run is None and not results and not ended:  # never started
            report.unfinished += 1
            continue
        report.runs_created += run is None
        report.epochs_logged += record.log_results(trial, results)
        if trial.status == "TERMINATED":
            record.complete(trial, trial.last_result or {}, final_state(trial))
        elif trial.status == "ERROR":
            record.fail(trial, error_text(trial))
        else:
            report.unfinished += 1
        report.runs_ended += ended
    return report


def stored_results(trial: Any) -> list[dict[str, Any]]:
    """Every result the trial reported, in order, from ``result.json`` in Ray's storage (local or cloud)."""
    storage = trial.storage
    try:
        with storage.storage_filesystem.open_input_stream(f"{storage.trial_fs_path}/result.json") as stream:
            text = stream.read().decode()
    except OSError:  # no result yet (or gone)
        return []
    results = []
    for line in text.splitlines():
        try:
            results.append(json.loads(line))
        except json.JSONDecodeError:  # the last line, cut short by a killed driver
            continue
    return results
