"""``mixup-tune status NAME``: how far a sweep has got, from MLflow alone, in any shell.

It only reads: one search for the sweep's runs and its parent's spec artifact
per look, so a sweep in progress is not disturbed, and no Ray is needed.
What the driver has written is what it shows: epochs reach MLflow at most
``records.sweep.FLUSH_INTERVAL_S`` after Ray reports them.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from typing import Any

from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from rich.console import Console
from rich.live import Live

from .progress import SweepProgress, TrialProgress, render, summary_line
from .records import PROGRESS_METRIC, SweepRecord, error_line, parse_param, tags
from .records.lease import describe_lease
from .records.store import swept_in

_STATUS = {"RUNNING": "running", "FINISHED": "finished", "FAILED": "failed", "KILLED": "stopped"}


def sweep_status(client: MlflowClient, name: str) -> tuple[SweepProgress, str, str | None]:
    """The sweep's progress as MLflow has it, its parent run's status (RUNNING while a driver works), and the
    driver that holds its lease (None when none does)."""
    record = SweepRecord.find(client, name)  # an unknown name: UserError, one line
    spec = record.read_spec()
    tune = spec.get("tune", {})
    metric, mode = tune.get("metric", "test_error"), tune.get("mode", "min")
    progress_metric = PROGRESS_METRIC.get(spec.get("trainable", {}).get("task", "classify"), "test_error")
    swept = swept_in(spec)
    parent = client.get_run(record.parent_run_id)
    now_ms = time.time() * 1000
    trials = recorded_trials(record, swept, metric, progress_metric, now_ms)
    total = int(parent.data.tags.get(tags.TRIALS, len(trials)))
    started = parent.info.start_time or now_ms
    ended = parent.info.end_time if parent.info.status != "RUNNING" and parent.info.end_time else now_ms
    progress = SweepProgress(
        name,
        metric,
        mode,
        max(total, len(trials)),
        (ended - started) / 1000,
        trials,
        concurrency=max(1, sum(t.status == "running" for t in trials)),
        active=parent.info.status == "RUNNING",
    )
    return progress, parent.info.status, describe_lease(parent)


def recorded_trials(
    record: SweepRecord, swept: list[str], metric: str, progress_metric: str, now_ms: float | None = None
) -> list[TrialProgress]:
    """The sweep's trials as MLflow has them, oldest first, labelled by the options swept."""
    now_ms = time.time() * 1000 if now_ms is None else now_ms
    runs = sorted(record.trial_runs().values(), key=lambda run: run.info.start_time or 0)
    return [_trial(run, list(dict.fromkeys(swept)), metric, progress_metric, now_ms) for run in runs]


def _trial(run: Run, swept: list[str], metric: str, progress_metric: str, now_ms: float) -> TrialProgress:
    params = run.data.params
    label = " ".join(f"{key}={parse_param(params[key])}" for key in swept if key in params)
    status = _STATUS.get(run.info.status, run.info.status.lower())
    if status == "finished" and run.data.tags.get(tags.DIVERGED) == "true":
        status = "diverged"
    # the step of the latest value: MLflow's search returns each metric's latest (value, step), kept in
    # RunData's metric objects; the public `metrics` dict keeps the values only
    latest = {m.key: m for m in getattr(run.data, "_metric_objs", [])}
    epoch = int(latest[progress_metric].step) if progress_metric in latest else 0
    end = run.info.end_time if status != "running" and run.info.end_time else now_ms
    key = run.data.tags.get(tags.TRIAL_ID, run.info.run_id)
    return TrialProgress(
        label or key[:8],  # a run just created has no params yet
        status,
        epoch,
        int(parse_param(params.get("epochs", "0")) or 0),
        run.data.metrics.get(metric),
        (end - (run.info.start_time or end)) / 1000,
        key,
        run.data.tags.get(tags.ERROR_LINE)
        or (error_line(run.data.tags[tags.ERROR]) if tags.ERROR in run.data.tags else ""),
    )


def as_json(progress: SweepProgress, sweep_status: str, driver: str | None = None) -> dict[str, Any]:
    """What ``status --json`` prints: the counts, the ETA and every trial."""
    best = progress.best
    return {
        "sweep": progress.name,
        "status": sweep_status,
        "driver": driver,
        "total": progress.total,
        **progress.counts(),
        "metric": progress.metric,
        "best": None if best is None else {"value": best.value, "setting": best.label},
        "elapsed_s": round(progress.elapsed_s, 1),
        "eta_s": None if progress.eta_s is None else round(progress.eta_s, 1),
        "trials": [asdict(trial) for trial in progress.trials],
    }


def show_status(
    client: MlflowClient, name: str, watch: float | None, json_lines: bool, console: Console
) -> None:
    """Print the status once, or with ``watch`` every ``watch`` seconds until the sweep's driver closes it:
    in place on a terminal, a line per look elsewhere (and with ``json_lines``, a JSON object per look)."""
    shown = ("running", "failed", "diverged", "stopped", "finished")
    in_place = watch is not None and console.is_terminal and not json_lines
    live = Live(console=console, auto_refresh=False) if in_place else None
    state = "RUNNING"
    try:
        while True:
            progress, state, driver = sweep_status(client, name)
            if json_lines:
                print(json.dumps(as_json(progress, state, driver)), flush=True)
            elif live is not None:
                live.update(render(progress, shown), refresh=True)
                live.start()
            elif watch is None:
                console.print(render(progress, shown))
                if driver is not None:
                    console.print(f"Driver: {driver}")
            else:
                console.print(summary_line(progress))
            if watch is None or state != "RUNNING":
                break
            time.sleep(watch)
    except KeyboardInterrupt:  # watching stops; the sweep goes on
        print(file=sys.stderr)
    finally:
        if live is not None:
            live.stop()
    if state != "RUNNING" and not json_lines:
        console.print(f"The sweep's parent run is {state}: no driver is running it.")
