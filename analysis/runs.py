"""A sweep's MLflow runs as pandas: one row per trial, and per-epoch history on request."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd
from mlflow.tracking import MlflowClient

from mixup_tune.mlflow_internals import bulk_metric_history
from mixup_tune.records import EPOCH_METRICS, error_line, find_runs, parse_param, tags
from trainables.config import defaults_left_out, option_names  # plain dataclasses: no torch import

_HISTORY_THREADS = 8  # concurrent get_metric_history calls to a tracking server
_BULK_RUNS = 500  # run ids per bulk query (SQLite caps the parameters of one statement)
_BULK_MAX_POINTS = 10**8


class NoRunsError(LookupError):
    """The sweep has no trial runs in this tracking store."""


def load_runs(sweep: str, tracking_uri: str) -> pd.DataFrame:
    """One row per trial: run id, status, tags, every trainable option (typed) and the final metrics."""
    client = MlflowClient(tracking_uri)
    runs = find_runs(client, sweep, "trial")
    if not runs:
        raise NoRunsError(f"no trial runs for sweep {sweep!r} in {tracking_uri}")
    rows = []
    parsed: dict[str, Any] = {}  # the same few texts recur in every run: parse each once
    for run in runs:
        row: dict[str, Any] = {
            "run_id": run.info.run_id,
            "trial_id": run.data.tags.get(tags.TRIAL_ID),
            "status": run.info.status,
            "diverged": run.data.tags.get(tags.DIVERGED) == "true",
            "surrogate": run.data.tags.get(tags.SURROGATE) == "true",
            "mixing": run.data.tags.get(tags.MIXING),  # the method's display name, or ERM (None: before it)
            # a failed trial's error in one line (recorded before that tag: read from its traceback)
            "error": run.data.tags.get(tags.ERROR_LINE)
            or (error_line(run.data.tags[tags.ERROR]) if tags.ERROR in run.data.tags else None),
            # MLflow's run start to end: the trial's wall time, evaluation included (None while it runs)
            "duration_s": (run.info.end_time - run.info.start_time) / 1000
            if run.info.end_time
            else float("nan"),
        }
        for key, value in run.data.params.items():
            if value not in parsed:
                parsed[value] = parse_param(value)
            row[key] = parsed[value]
        row.update(run.data.metrics)
        rows.append(row)
    frame = pd.DataFrame(rows)
    # An option added after the first trial ids is not logged at its default: where other runs of the
    # sweep log it, a run without it ran at the default. (An option no run logs stays out of the table.)
    for name, default in defaults_left_out().items():
        if name in frame and frame[name].isna().any():
            frame[name] = frame[name].fillna(default)
    option_order = _options_in(frame)
    rest = [c for c in frame.columns if c not in option_order]
    frame = frame[rest[:6] + option_order + rest[6:]]
    return frame.sort_values(varying_options(frame) or ["trial_id"]).reset_index(drop=True)


def load_history(
    sweep: str, tracking_uri: str, metrics: tuple[str, ...] = EPOCH_METRICS, run_ids: list[str] | None = None
) -> pd.DataFrame:
    """One row per trial and epoch, with each metric as a column; every trial of the sweep, or the runs
    given."""
    client = MlflowClient(tracking_uri)
    if run_ids is None:
        runs = find_runs(client, sweep, "trial")
        run_ids = [run.info.run_id for run in runs]
        metrics = tuple(m for m in metrics if any(m in run.data.metrics for run in runs))
    records = [
        {"run_id": run_id, "epoch": int(point.step), "metric": metric, "value": point.value}
        for run_id, metric, point in _histories(client, run_ids, metrics)
    ]
    if not records:
        raise NoRunsError(f"no metric history for sweep {sweep!r} in {tracking_uri}")
    long = pd.DataFrame(records).drop_duplicates(["run_id", "epoch", "metric"], keep="last")
    return long.pivot(index=["run_id", "epoch"], columns="metric", values="value").reset_index()


def _histories(
    client: MlflowClient, run_ids: list[str], metrics: tuple[str, ...]
) -> Iterator[tuple[str, str, Any]]:
    """(run id, metric, point) for every logged point.

    The public client has one call per run and metric: a minute for a thousand
    runs. MLflow's SQL store also answers one query per metric for many runs
    (the bulk history its UI uses), so a database store is read that way; a
    tracking server gets the per-run calls, side by side.
    """
    bulk = bulk_metric_history(client)
    if bulk is not None:
        for metric in metrics:
            for start in range(0, len(run_ids), _BULK_RUNS):
                for point in bulk(run_ids[start : start + _BULK_RUNS], metric, _BULK_MAX_POINTS):
                    yield str(point.run_id), metric, point  # a Metric with its run id
        return
    pairs = [(run_id, metric) for run_id in run_ids for metric in metrics]
    with ThreadPoolExecutor(max_workers=_HISTORY_THREADS) as pool:
        for (run_id, metric), points in zip(
            pairs, pool.map(lambda pair: client.get_metric_history(*pair), pairs)
        ):
            yield from ((run_id, metric, point) for point in points)


def finished(runs: pd.DataFrame) -> pd.DataFrame:
    """The trials the tables and figures read: finished and not diverged (failed and diverged trials are only
    counted).

    A selection of ``runs``: copy it before adding columns. (The GAN study keeps
    diverged trials, as failures: it filters the runs itself.)
    """
    return runs[(runs["status"] == "FINISHED") & ~runs["diverged"]]


def varying_options(runs: pd.DataFrame) -> list[str]:
    """Trainable options that differ between trials: the sweep's axes."""
    options = _options_in(runs)
    return [name for name in options if runs[name].astype(str).nunique() > 1]


def _options_in(frame: pd.DataFrame) -> list[str]:
    """The trainable options among ``frame``'s columns, in ``option_names`` order, a method's own options
    (``mix.OPTION``) after ``mix.method``."""
    known = [name for name in option_names() if name in frame.columns]
    own = sorted(c for c in frame.columns if isinstance(c, str) and c.startswith("mix.") and c not in known)
    at = known.index("mix.method") + 1 if "mix.method" in known else len(known)
    return known[:at] + own + known[at:]
