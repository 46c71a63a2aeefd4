"""A sweep's MLflow runs as pandas: one row per trial, and per-epoch history on request."""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.tracking import MlflowClient

from mixup_tune import tags
from mixup_tune.records import EPOCH_METRICS, find_runs, parse_param
from trainables import TrainConfig



class NoRunsError(LookupError):
    """The sweep has no trial runs in this tracking store."""


def load_runs(sweep: str, tracking_uri: str) -> pd.DataFrame:
    """One row per trial: run id, status, tags, every trainable option (typed) and the final metrics."""
    client = MlflowClient(tracking_uri)
    runs = find_runs(client, sweep, "trial")
    if not runs:
        raise NoRunsError(f"no trial runs for sweep {sweep!r} in {tracking_uri}")
    rows = []
    for run in runs:
        row: dict[str, Any] = {
            "run_id": run.info.run_id,
            "trial_id": run.data.tags.get(tags.TRIAL_ID),
            "status": run.info.status,
            "diverged": run.data.tags.get(tags.DIVERGED) == "true",
            "surrogate": run.data.tags.get(tags.SURROGATE) == "true",
        }
        row.update({key: parse_param(value) for key, value in run.data.params.items()})
        row.update(run.data.metrics)
        rows.append(row)
    frame = pd.DataFrame(rows)
    option_order = [name for name in TrainConfig().flat() if name in frame.columns]
    rest = [c for c in frame.columns if c not in option_order]
    frame = frame[rest[:5] + option_order + rest[5:]]
    return frame.sort_values(varying_options(frame) or ["trial_id"]).reset_index(drop=True)


def load_history(sweep: str, tracking_uri: str, metrics: tuple[str, ...] = EPOCH_METRICS) -> pd.DataFrame:
    """One row per trial and epoch, with each metric as a column."""
    client = MlflowClient(tracking_uri)
    records = []
    for run in find_runs(client, sweep, "trial"):
        for metric in metrics:
            if metric not in run.data.metrics:
                continue
            for point in client.get_metric_history(run.info.run_id, metric):
                records.append({"run_id": run.info.run_id, "epoch": int(point.step), "metric": metric, "value": point.value})
    if not records:
        raise NoRunsError(f"no metric history for sweep {sweep!r} in {tracking_uri}")
    long = pd.DataFrame(records).drop_duplicates(["run_id", "epoch", "metric"], keep="last")
    return long.pivot(index=["run_id", "epoch"], columns="metric", values="value").reset_index()


def varying_options(runs: pd.DataFrame) -> list[str]:
    """Trainable options that differ between trials: the sweep's axes."""
    options = [name for name in TrainConfig().flat() if name in runs.columns]
    return [name for name in options if runs[name].astype(str).nunique() > 1]

