"""``mixup-tune analyze``: read a sweep back from MLflow, write tables, figures and report.md, log them to the
parent run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from mlflow.tracking import MlflowClient

from mixup_tune.records import find_parent, tags

from .render import StudyOutput, markdown_table
from .runs import load_runs, varying_options
from .studies import Render, StudyContext, get_study

ARTIFACT_DIR = "analysis"
GENERIC = "generic"  # the study of a sweep without a study tag (or without a parent run)


def analyze(sweep: str, tracking_uri: str, out: Path) -> list[Path]:
    """Write ``runs.csv``, the study's tables and figures, and ``report.md`` to ``out``; return the files.

    The files depend only on the logged runs, so analysing the same runs again
    gives the same bytes.
    """
    runs = load_runs(sweep, tracking_uri)
    out.mkdir(parents=True, exist_ok=True)
    runs_csv = out / "runs.csv"
    runs.drop(columns=["run_id"]).to_csv(runs_csv, index=False, float_format="%.4f")
    client = MlflowClient(tracking_uri)
    parent = find_parent(client, sweep)  # one lookup: the study tag, and where the outputs are logged
    study = parent.data.tags.get(tags.STUDY, GENERIC) if parent else GENERIC
    render = _renderer(study, runs)
    sections = [render(StudyContext.of(sweep, runs, out, tracking_uri))] if render else []
    report = out / "report.md"
    report.write_text(_report(sweep, study, runs, sections))
    files = [runs_csv, *(path for section in sections for path in section.files), report]
    if parent is not None:
        for path in files:
            client.log_artifact(parent.info.run_id, str(path), ARTIFACT_DIR)
    return files


def _renderer(study: str, runs: pd.DataFrame) -> Render | None:
    """The registered study of that name; for a generic sweep over alpha, the bias-variance view; else
    none."""
    if study == GENERIC:
        return get_study("bias_variance") if "alpha" in varying_options(runs) else None
    return get_study(study)


def _report(sweep: str, study: str, runs: pd.DataFrame, sections: list[StudyOutput]) -> str:
    counts = (
        runs.assign(outcome=runs["status"].where(~runs["diverged"], "DIVERGED"))["outcome"]
        .value_counts()
        .sort_index()
    )
    axes = varying_options(runs)
    header = [
        f"# Sweep `{sweep}` ({study})",
        f"{len(runs)} trials; "
        + ", ".join(f"{n} {status.lower()}" for status, n in counts.items())
        + ". "
        + (f"Swept: {', '.join(axes)}. " if axes else "")
        + "Failed and diverged trials are left out of every table and figure. All trials: "
        "[runs.csv](runs.csv).",
    ]
    fixed = {
        name: runs[name].iloc[0]
        for name in ("dataset", "model", "epochs", "batch_size", "optimizer.name", "optimizer.lr")
        if name in runs and name not in axes
    }
    if fixed:  # as given (a learning rate of 1e-3 is not "0.00")
        header.append(
            markdown_table(
                pd.DataFrame(
                    [
                        {
                            name: f"{value:g}" if isinstance(value, float) else value
                            for name, value in fixed.items()
                        }
                    ]
                )
            )
        )
    return "\n\n".join([*header, *(section.markdown for section in sections)]) + "\n"
