"""The summary a sweep's ``run`` or ``resume`` ends with: what ran, the sweep's best, where it is recorded,
and the commands that look further (the MLflow UI on the port the user gave, the trials, the figures)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .sweep_end import SweepOutcome


def print_rows(console: Console, title: str, rows: list[tuple[str, str]]) -> None:
    """A two-column summary table: label, value."""
    table = Table(title=title, show_header=False)
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)


def print_summary(console: Console, outcome: SweepOutcome, ui_port: int) -> int:
    """The table a sweep's run or resume ends with, the commands to look further, and the exit code."""
    rows = [
        ("trials run this time", str(max(outcome.planned, 0))),
        ("already finished, skipped", str(outcome.skipped)),
        ("completed", str(outcome.completed)),
        ("diverged (stopped, not retried)", str(outcome.diverged)),
        ("failed", str(outcome.failed)),
        *(
            [("black-box targets evaluated", str(outcome.black_box_targets))]
            if outcome.black_box_targets
            else []
        ),
        *(
            [
                (
                    "epochs copied from Ray storage",
                    f"{outcome.backfilled_epochs} ({outcome.backfilled_runs} new runs)",
                )
            ]
            if outcome.backfilled_epochs or outcome.backfilled_runs
            else []
        ),
        *([("runs left RUNNING, reconciled", str(outcome.reconciled))] if outcome.reconciled else []),
        *(
            # over the whole sweep, the trials of its earlier runs included, not only those run this time
            [
                (
                    f"best {outcome.best[0]} of {outcome.finished_in_all} finished",
                    f"{outcome.best[1]} ({outcome.best[2]})",
                )
            ]
            if outcome.best
            else []
        ),
        ("wall time", f"{outcome.wall_seconds:.1f} s"),
        (
            "MLflow",
            f"{outcome.tracking_uri}, experiment {outcome.experiment!r}, parent run {outcome.parent_run_id}",
        ),
        ("Ray results", outcome.storage),
    ]
    print_rows(console, f"sweep {outcome.name}", rows)
    for error in outcome.errors[:5]:
        console.print(f"[red]trial error:[/red] {error}")
    backend = outcome.tracking_uri
    # the experiment's training runs: MLflow 3's UI opens an experiment on its GenAI pages otherwise, whatever
    # the experiment's kind (its "workflow type" switch wins)
    runs_page = f"#/experiments/{outcome.experiment_id}/runs?workflowType=machine_learning"
    commands = [
        f"Browse:   mlflow ui --backend-store-uri {backend} --port {ui_port}   "
        f"then http://127.0.0.1:{ui_port}/{runs_page}"
        if backend.startswith(("sqlite:", "postgresql:", "mysql:"))
        else f"Browse:   {backend.rstrip('/')}/{runs_page}",
        f"Trials:   mixup-tune runs {outcome.name}",
        *([f"Optuna:   optuna-dashboard {outcome.optuna_storage}"] if outcome.optuna_storage else []),
        f"Figures:  mixup-tune analyze {outcome.name} --out results/{outcome.name}",
    ]
    for line in commands:  # whole lines, however narrow the terminal: they are for copying
        console.print(line, soft_wrap=True)
    if outcome.tracking_error is not None:
        console.print(
            f"[red]MLflow could not be written[/red] ({outcome.tracking_error}). Every result is in Ray's "
            "storage; "
            f"when the tracking store is back: mixup-tune sync {outcome.name} --tracking-uri "
            f"{outcome.tracking_uri}"
        )
    if outcome.interrupted:
        console.print(f"Interrupted. Continue with: mixup-tune resume {outcome.name}")
        return 130
    return 1 if outcome.failed or outcome.tracking_error is not None else 0
