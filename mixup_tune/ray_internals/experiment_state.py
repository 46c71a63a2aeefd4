"""Ray Tune's saved experiment state, read (and found) as ``Tuner.restore`` reads it, and its
``ExperimentAnalysis`` without the DataFrames nothing here uses.

Private: Tune's newest-checkpoint finder (``ray.tune.execution.experiment_state``), its storage's
filesystem resolver (``ray.train._internal.storage``), the JSON layout of the state file's ``trial_data``,
and a method of ``ExperimentAnalysis`` replaced for the length of a block.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@contextmanager
def result_files_left_unread() -> Iterator[None]:
    """Ray's ``ExperimentAnalysis`` made in this block does not read every trial's result file into a
    DataFrame.

    ``Tuner.fit`` builds one for its ``ResultGrid`` after the last trial ends, and ``saved_trials`` one from
    the saved state. Its DataFrames (``ResultGrid.get_dataframe``, ``Result.metrics_dataframe``) are all
    that reads those files, and nothing here uses them: MLflow holds the results, the ``ResultGrid`` is
    read only for its errors. Skipping it took the driver's peak at 10,000 near-zero trials from 2,684 to
    2,274 MiB and the sweep's end after its last trial from ~20 to ~4 s; at 1,000, 1,006 to 910 MiB
    (BENCHMARKS.md, 10,000 trials). Ray's method is put back when the block ends.
    """
    from ray.tune import ExperimentAnalysis

    fetch = ExperimentAnalysis.__dict__["_fetch_trial_dataframes"]
    ExperimentAnalysis._fetch_trial_dataframes = lambda self: {}  # type: ignore[method-assign]
    try:
        yield
    finally:
        ExperimentAnalysis._fetch_trial_dataframes = fetch  # type: ignore[method-assign]


def saved_trials(experiment_dir: str) -> list[Any]:
    """A sweep's trials as Ray saved them (config, status, last result, storage), read by Ray's
    ``ExperimentAnalysis`` without its DataFrames (``result_files_left_unread``)."""
    from ray.tune import ExperimentAnalysis

    with result_files_left_unread():
        return list(ExperimentAnalysis(experiment_dir).trials)


def saved_trial_ends(experiment_dir: str) -> list[tuple[str, dict[str, Any]]]:
    """Each trial's status and last result as Ray saved them, read from the newest experiment-state file as
    plain JSON: what ``saved_trials`` gives of them, without rebuilding every ``Trial`` (each unpickles its
    storage, placement group and checkpoint manager). At 10,000 trials 1.1 to 2.5 s and +312 MiB at the
    driver's peak, against 6.5 s and +565 MiB (BENCHMARKS.md). ``test_divergence`` holds the two equal."""
    saved = newest_saved_state(experiment_dir)
    if saved is None:
        raise FileNotFoundError(f"no experiment state saved by Ray in {experiment_dir}")
    return [
        (json.loads(state)["status"], json.loads(runtime).get("last_result") or {})
        for state, runtime in saved.content["trial_data"]
    ]


@dataclass
class SavedState:
    """Ray's newest experiment-state file of a sweep, as plain JSON: ``trial_data`` holds each trial's two
    JSON texts (its state, its run metadata). ``filesystem`` and ``experiment_path`` are Ray's for the
    storage (local or a bucket), ``file`` the state file's path on it."""

    filesystem: Any
    experiment_path: str
    file: str
    content: dict[str, Any]


def newest_saved_state(experiment_dir: str) -> SavedState | None:
    """The sweep's newest experiment state as Ray saved it, found as ``Tuner.restore`` finds it; None without
    one."""
    from ray.train._internal.storage import get_fs_and_path
    from ray.tune.execution.experiment_state import _find_newest_experiment_checkpoint

    filesystem, path = get_fs_and_path(experiment_dir)
    newest = _find_newest_experiment_checkpoint(path, fs=filesystem)
    if newest is None:
        return None
    with filesystem.open_input_stream(newest) as stream:
        return SavedState(filesystem, path, newest, json.loads(stream.readall()))
