"""Finding a sweep's MLflow runs by their tags. Needs MLflow only (no Ray), for analysis too."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from . import tags


def default_tracking_uri() -> str:
    """``--tracking-uri`` wins, then $MLFLOW_TRACKING_URI, then ./mlflow.db (MLflow 3's default store)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path('mlflow.db').resolve()}"


def find_runs(client: MlflowClient, sweep: str, role: str, trial_id: str | None = None, experiment_ids: list[str] | None = None) -> list[Any]:
    """Runs of a sweep by tags, across all experiments unless given."""
    if experiment_ids is None:
        experiment_ids = [e.experiment_id for e in client.search_experiments()]
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(experiment_ids, tags.sweep_filter(sweep, role, trial_id), max_results=1000, page_token=token)
        runs += list(page)
        token = page.token
        if not token:
            return runs


def find_parent(client: MlflowClient, sweep: str) -> Any | None:
    parents = find_runs(client, sweep, "parent")
    return parents[0] if parents else None


def parse_param(text: str) -> Any:
    """MLflow stores params as strings; give back numbers, booleans, None and (hashable) tuples."""
    if text in ("None", "True", "False"):
        return {"None": None, "True": True, "False": False}[text]
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return tuple(value) if isinstance(value, list) else value
