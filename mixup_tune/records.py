"""Finding a sweep's MLflow runs by their tags. Needs MLflow only (no Ray), for analysis too."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from . import tags
from .errors import UserError

# Per-epoch metrics, logged with step = epoch; errors in %. A GAN trial's epoch is gan.iterations_per_epoch generator iterations.
CLASSIFIER_METRICS = ("test_error", "test_error_top5", "train_error_real", "train_error_corrupted", "val_error", "train_loss", "lr")
GAN_METRICS = ("iteration", "d_loss", "g_loss", "modes_covered", "high_quality", "sample_distance")
EPOCH_METRICS = CLASSIFIER_METRICS + GAN_METRICS
PROGRESS_METRIC = {"classify": "test_error", "gan": "sample_distance"}  # logged every epoch by every trial of the task
SNAPSHOT_DIR = "snapshots"  # a GAN trial's generated points at gan.snapshots iterations (Figure 5)
MODEL_DIR, MODEL_FILE = "model", "model.pt"  # a trial's final weights and config, when the sweep logs them


def default_tracking_uri() -> str:
    """``--tracking-uri`` wins, then $MLFLOW_TRACKING_URI, then ./mlflow.db (MLflow 3's default store)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path('mlflow.db').resolve()}"


def configure_mlflow_client() -> None:
    """MLflow client settings for the driver; users can still set their own.

    A tracking server that dies mid-sweep must cost seconds, not minutes:
    MLflow's defaults are 7 retries with exponential back-off and a 120 s
    timeout per request, during which Tune's driver loop, and every trial's
    results, would wait. And one "View run at" line per trial would break up
    Ray's progress table (the summary says where the runs are).
    """
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


def check_tracking(tracking_uri: str, timeout_s: float = 10.0) -> MlflowClient:
    """Fail in seconds, before anything runs, when the tracking store cannot be reached.

    A server is probed on its /health endpoint first: MLflow's own client
    retries a dead server with back-off for minutes before it gives up.
    """
    if tracking_uri.startswith(("http://", "https://")):
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"{tracking_uri.rstrip('/')}/health", timeout=timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as error:
            if error.code != 401:  # a server behind basic auth answers 401 here; the client below logs in
                raise UserError(f"MLflow tracking server {tracking_uri} answered HTTP {error.code} on /health") from None
        except (OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise UserError(f"cannot reach MLflow tracking server {tracking_uri}: {reason}") from None
    try:  # opening a database store can fail too: a path that cannot be created, a file that is not a database
        client = MlflowClient(tracking_uri)
        client.search_experiments(max_results=1)
    except Exception as error:  # any failure here means no run could be recorded
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "401" in text or "403" in text:  # a server behind basic auth
            raise UserError(f"MLflow tracking server {tracking_uri} refused the credentials (set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)") from None
        raise UserError(f"cannot reach MLflow tracking store {tracking_uri}: {text[:200]}") from None
    return client


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


def load_trained(client: MlflowClient, run_id: str) -> Any:
    """A ``trainables.Trial`` rebuilt from a run's logged model: its data, normalisation, config and final weights."""
    import tempfile

    import torch

    from trainables import TrainConfig, Trial

    with tempfile.TemporaryDirectory() as directory:
        path = client.download_artifacts(run_id, f"{MODEL_DIR}/{MODEL_FILE}", directory)
        saved = torch.load(Path(path), map_location="cpu", weights_only=False)
    trial = Trial(TrainConfig(**saved["config"]))
    trial.model.load_state_dict(saved["model"])
    return trial
