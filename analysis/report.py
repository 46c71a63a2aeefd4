"""``mixup-tune analyze``: read a sweep back from MLflow, write tables, figures and report.md, log them to the
parent run."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from mixup_tune.records import SweepRecord, find_parent, tags

from .compare import compare
from .render import StudyOutput, markdown_table
from .runs import load_runs, varying_options
from .studies import Render, StudyContext, get_study

ARTIFACT_DIR = "analysis"
GENERIC = "generic"  # the study of a sweep without a study tag (or without a parent run)


class SweepRunning(RuntimeError):
    """``analyze`` without ``partial`` on a sweep a driver still runs (its parent run is RUNNING)."""


def analyze(sweep: str, tracking_uri: str, out: Path, partial: bool = False) -> list[Path]:
    """Write ``runs.csv``, the study's tables and figures, the comparison, and ``report.md`` to ``out``; log
    them to the parent run; return the files.

    The files depend only on the logged runs, so analysing the same runs again
    gives the same bytes. A sweep still running is refused unless ``partial``:
    then the finished trials are analysed into files named ``*-partial*``,
    under a report that says how many trials were still to come, and nothing
    is logged to MLflow, so nothing can pass for the final result.
    """
    runs = load_runs(sweep, tracking_uri)
    client = MlflowClient(tracking_uri)
    parent = find_parent(client, sweep)  # one lookup: the study tag, and where the outputs are logged
    unfinished = _still_running(parent, runs)
    if unfinished and not partial:
        raise SweepRunning(
            f"sweep {sweep!r} is still running ({unfinished}); `mixup-tune analyze {sweep} --partial` "
            "analyses the finished trials into files marked partial"
        )
    study = parent.data.tags.get(tags.STUDY, GENERIC) if parent else GENERIC
    metric, mode = _objective(client, sweep) if parent else ("test_error", "min")
    with tempfile.TemporaryDirectory() as staging:
        # written apart first: a partial analysis is renamed on its way to `out`
        where = Path(staging) if unfinished else out
        where.mkdir(parents=True, exist_ok=True)
        runs_csv = where / "runs.csv"
        runs.drop(columns=["run_id"]).to_csv(runs_csv, index=False, float_format="%.4f")
        render = _renderer(study, runs)
        sections = [render(StudyContext.of(sweep, runs, where, tracking_uri))] if render else []
        compared, comparison = compare(runs, metric, mode, where)
        report = where / "report.md"
        text = _report(sweep, study, runs, sections) + (f"\n{comparison}\n" if comparison else "")
        report.write_text(text)
        files = [runs_csv, *(path for section in sections for path in section.files), *compared, report]
        if unfinished:
            return _as_partial(files, out, unfinished)
    if parent is not None:
        for path in files:
            client.log_artifact(parent.info.run_id, str(path), ARTIFACT_DIR)
    return files


def _still_running(parent: Run | None, runs: pd.DataFrame) -> str:
    """What of the sweep is still to come, in words, while a driver holds its parent run; "" once it ended."""
    if parent is None or parent.info.status != "RUNNING":
        return ""
    total = int(parent.data.tags.get(tags.TRIALS, len(runs)))
    running = int((runs["status"] == "RUNNING").sum())
    done = int(runs["status"].isin(["FINISHED", "FAILED"]).sum())
    return f"{done} of {total} trials ended, {running} running, {max(total - done - running, 0)} not started"


def _as_partial(files: list[Path], out: Path, unfinished: str) -> list[Path]:
    """Move a partial analysis to ``out``, each name marked (``runs-partial.csv``), the report saying so."""
    out.mkdir(parents=True, exist_ok=True)
    names = {path.name: f"{path.stem}-partial{path.suffix}" for path in files}
    report = files[-1].read_text()
    for name, marked in names.items():
        report = report.replace(f"({name})", f"({marked})").replace(f"[{name}]", f"[{marked}]")
    when = time.strftime("%Y-%m-%d %H:%M %Z")
    title, rest = report.split("\n", 1)
    files[-1].write_text(
        f"{title} (PARTIAL)\n\n**Partial: the sweep was still running at {when} ({unfinished}).** "
        "Only its finished trials are in these tables and figures; `mixup-tune analyze` once it ends writes "
        f"the final ones.\n{rest}"
    )
    moved = []
    for path in files:
        target = out / names[path.name]
        shutil.move(path, target)
        moved.append(target)
    return moved


def _objective(client: MlflowClient, sweep: str) -> tuple[str, str]:
    """The sweep's ``tune.metric`` and ``tune.mode``, from the spec it last ran with."""
    try:
        tune = SweepRecord.find(client, sweep).read_spec().get("tune", {})
    except Exception:  # a spec that cannot be read: the default objective still compares the runs
        tune = {}
    return tune.get("metric", "test_error"), tune.get("mode", "min")


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
