"""``mixup-tune analyze``: read a sweep back from MLflow, write tables, figures and report.md, log them to the parent run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from mlflow.tracking import MlflowClient

from . import adversarial, bias_variance, cifar, gan, imagenet, label_noise, speech, uci, variants
from .render import StudyOutput, markdown_table
from mixup_tune.records import tags
from mixup_tune.records import find_parent

from .runs import load_history, load_runs, varying_options

ARTIFACT_DIR = "analysis"


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
    study = parent.data.tags.get(tags.STUDY, "generic") if parent else "generic"
    sections: list[StudyOutput] = []
    if study == "label_noise":
        sections.append(label_noise.render(runs, lambda run_ids, metrics: load_history(sweep, tracking_uri, metrics, run_ids), out))
    if study == "adversarial":
        sections.append(adversarial.render(runs, out))
    if study == "uci":
        sections.append(uci.render(runs, out))
    if study == "variants":
        sections.append(variants.render(runs, out))
    if study == "speech":
        sections.append(speech.render(runs, out))
    if study == "imagenet":
        sections.append(imagenet.render(runs, out))
    if study == "cifar":
        sections.append(cifar.render(runs, lambda run_ids, metrics: load_history(sweep, tracking_uri, metrics, run_ids), out))
    if study == "gan":
        sections.append(gan.render(runs, lambda run_ids, metrics: load_history(sweep, tracking_uri, metrics, run_ids), tracking_uri, out))
    if study == "in_between":
        from . import in_between  # evaluates logged models: torch, only for this study

        sections.append(in_between.render(runs, tracking_uri, out))
    if study == "bias_variance" or (study == "generic" and "alpha" in varying_options(runs)):
        sections.append(bias_variance.render(runs, out, title=sweep))
    report = out / "report.md"
    report.write_text(_report(sweep, study, runs, sections))
    files = [runs_csv, *(path for section in sections for path in section.files), report]
    if parent is not None:
        for path in files:
            client.log_artifact(parent.info.run_id, str(path), ARTIFACT_DIR)
    return files


def _report(sweep: str, study: str, runs: pd.DataFrame, sections: list[StudyOutput]) -> str:
    counts = runs.assign(outcome=runs["status"].where(~runs["diverged"], "DIVERGED"))["outcome"].value_counts().sort_index()
    axes = varying_options(runs)
    header = [
        f"# Sweep `{sweep}` ({study})",
        f"{len(runs)} trials; " + ", ".join(f"{n} {status.lower()}" for status, n in counts.items()) + ". "
        + (f"Swept: {', '.join(axes)}. " if axes else "")
        + "Failed and diverged trials are left out of every table and figure. All trials: [runs.csv](runs.csv).",
    ]
    fixed = {name: runs[name].iloc[0] for name in ("dataset", "model", "epochs", "batch_size", "optimizer.name", "optimizer.lr") if name in runs and name not in axes}
    if fixed:  # as given (a learning rate of 1e-3 is not "0.00")
        header.append(markdown_table(pd.DataFrame([{name: f"{value:g}" if isinstance(value, float) else value for name, value in fixed.items()}])))
    return "\n\n".join([*header, *(section.markdown for section in sections)]) + "\n"
