"""``mixup-tune analyze``: read a sweep back from MLflow, write tables and figures, log them to the parent run."""

from __future__ import annotations

from pathlib import Path

from mlflow.tracking import MlflowClient

from . import bias_variance
from .runs import load_runs, parent_run_id, sweep_study, varying_options

ARTIFACT_DIR = "analysis"


def analyze(sweep: str, tracking_uri: str, out: Path) -> list[Path]:
    """Write ``runs.csv`` and the study's outputs to ``out``; return the files written.

    The files depend only on the logged runs, so analysing the same runs again
    gives the same files.
    """
    runs = load_runs(sweep, tracking_uri)
    out.mkdir(parents=True, exist_ok=True)
    runs_csv = out / "runs.csv"
    runs.drop(columns=["run_id"]).to_csv(runs_csv, index=False, float_format="%.4f")
    files = [runs_csv]
    study = sweep_study(sweep, tracking_uri)
    if study == "bias_variance" or "alpha" in varying_options(runs):
        files += bias_variance.render(runs, out, title=sweep)
    parent = parent_run_id(sweep, tracking_uri)
    if parent is not None:
        client = MlflowClient(tracking_uri)
        for path in files:
            client.log_artifact(parent, str(path), ARTIFACT_DIR)
    return files
