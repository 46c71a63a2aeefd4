"""How far a sweep has got: a snapshot of its trials, the ETA, and the two ways to show it.

The live view (``mixup_tune.live``, from Ray's trials on the driver) and
``mixup-tune status`` (``mixup_tune.status``, from MLflow in any shell) fill
the same ``SweepProgress``, so both give the same counts and the same ETA.
Needs neither Ray nor MLflow.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

from rich.console import Group
from rich.table import Table
from rich.text import Text

# at most this many trials listed under the counts; the rest are summed up in one line
_SHOWN_TRIALS = 20


@dataclass
class TrialProgress:
    label: str  # the trial's setting, e.g. "alpha=1 label_noise=0.4"
    status: str  # pending, running, finished, diverged, failed, stopped
    epoch: int = 0  # the last epoch reported
    epochs: int = 0  # the trial's total
    value: float | None = None  # the last value of the sweep's metric
    elapsed_s: float = 0.0  # since the trial started (running) or its whole run (finished)
    key: str = ""  # the trial key its MLflow run is tagged with (status), or Ray's trial id (live view)
    error: str = ""  # a failed trial's error, in one line


@dataclass
class SweepProgress:
    name: str
    metric: str
    mode: str  # "min" or "max"
    total: int  # the sweep's trials, those finished before this run of it included
    elapsed_s: float
    trials: list[TrialProgress] = field(default_factory=list)
    concurrency: int = 1  # trials that run at once
    active: bool = True  # a driver is running the sweep (else there is no ETA)
    skipped: int = 0  # trials FINISHED before this run of the sweep, which it does not start (live view)
    # the best of those skipped trials (live view): the best shown is the whole sweep's, not this run's
    best_before: TrialProgress | None = None

    def count(self, *statuses: str) -> int:
        return sum(trial.status in statuses for trial in self.trials)

    @property
    def pending(self) -> int:
        """Trials not started yet: listed as pending, or not proposed by the searcher yet."""
        return self.count("pending", "stopped") + max(0, self.total - len(self.trials))

    @property
    def best(self) -> TrialProgress | None:
        earlier = [self.best_before] if self.best_before is not None else []
        scored = [t for t in self.trials + earlier if t.value is not None and math.isfinite(t.value)]
        if not scored:
            return None
        return (min if self.mode == "min" else max)(scored, key=lambda t: t.value or 0.0)

    @property
    def eta_s(self) -> float | None:
        """Seconds until the last trial ends; None until a trial has finished or reported an epoch, or when
        no driver runs the sweep."""
        if not self.active:
            return None
        finished = [t.elapsed_s for t in self.trials if t.status in ("finished", "diverged")]
        running = [(t.elapsed_s, t.epoch, t.epochs) for t in self.trials if t.status == "running"]
        return estimate_eta(finished, running, self.pending, self.concurrency)

    def counts(self) -> dict[str, int]:
        return {
            "finished": self.count("finished"),
            "running": self.count("running"),
            "pending": self.pending,
            "failed": self.count("failed"),
            "diverged": self.count("diverged"),
        }


def estimate_eta(
    finished_s: list[float], running: list[tuple[float, int, int]], pending: int, concurrency: int
) -> float | None:
    """The sweep's remaining seconds: its trials placed on ``concurrency`` slots, as Ray places them.

    A trial is expected to take the finished trials' mean duration. A running
    trial (seconds so far, epochs done, epochs in all) takes what is left of
    that, or, before any trial has finished, its own pace per epoch so far. A
    pending trial starts on the first slot to come free. Trials end together
    in this model, so the ETA is the last slot's end.
    """
    typical = sum(finished_s) / len(finished_s) if finished_s else None
    paces = [elapsed / done * epochs for elapsed, done, epochs in running if done > 0 and epochs > 0]
    if typical is None and paces:
        typical = sum(paces) / len(paces)
    if typical is None:
        return None if running or pending else 0.0
    slots = [0.0] * max(0, concurrency - len(running))
    for elapsed, done, epochs in running:  # each on a slot of its own, as it is now
        own = elapsed / done * epochs if done > 0 and epochs > 0 else typical
        # the finished trials' mean where there is one: a trial's first epochs run slower than its rest
        slots.append(max((typical if finished_s else own) - elapsed, 0.0))
    slots = slots or [0.0]
    heapq.heapify(slots)
    for _ in range(pending):
        heapq.heapreplace(slots, slots[0] + typical)
    return max(slots)


def duration(seconds: float | None) -> str:
    """``1 h 05 min``, ``4 min 10 s``, ``12 s``; ``?`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def value_text(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def summary_line(progress: SweepProgress) -> str:
    """One plain line: for logs without a terminal, and the live view's heading."""
    counts = progress.counts()
    parts = [f"{counts['finished']}/{progress.total} finished"]
    if progress.skipped:
        parts[0] += f" (+{progress.skipped} finished before, skipped)"
    parts += [f"{counts[key]} {key}" for key in ("running", "pending", "failed", "diverged") if counts[key]]
    best = progress.best
    text = f"sweep {progress.name}: " + ", ".join(parts)
    if best is not None:
        text += f"; best {progress.metric} {value_text(best.value)} ({best.label})"
    if not progress.active:
        return text + f"; ran {duration(progress.elapsed_s)}"
    eta = progress.eta_s
    ends = "" if eta is None else f", ends ~{time.strftime('%H:%M', time.localtime(time.time() + eta))}"
    return text + f"; elapsed {duration(progress.elapsed_s)}, ETA {duration(eta)}{ends}"


def render(progress: SweepProgress, statuses: tuple[str, ...] = ("running",)) -> Group:
    """The summary line, then a table of the trials in ``statuses``: their epoch and metric."""
    shown = [t for t in progress.trials if t.status in statuses]
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("trial", "status", "epoch", progress.metric, "time"):
        table.add_column(column, justify="left" if column in ("trial", "status") else "right")
    for trial in shown[:_SHOWN_TRIALS]:
        table.add_row(
            trial.label,
            trial.status,
            f"{trial.epoch}/{trial.epochs}" if trial.epochs else str(trial.epoch),
            value_text(trial.value),
            duration(trial.elapsed_s),
        )
    parts: list[Text | Table] = [Text(summary_line(progress))]
    if shown:
        parts.append(table)
    if len(shown) > _SHOWN_TRIALS:
        parts.append(Text(f"... and {len(shown) - _SHOWN_TRIALS} more"))
    parts += [Text(line) for line in failure_lines(progress)]
    return Group(*parts)


def failure_lines(progress: SweepProgress, most: int = 5) -> list[str]:
    """``failed: <setting>: <its error>``, a line per failed trial, at most ``most``."""
    failed = [t for t in progress.trials if t.status == "failed"]
    lines = [f"failed: {t.label}: {t.error or 'no error recorded'}" for t in failed[:most]]
    return lines + ([f"... and {len(failed) - most} more failed"] if len(failed) > most else [])
