"""The live view while ``run`` or ``resume`` works: a Ray Tune progress reporter drawn with rich.

It shows the counts, the best value of ``tune.metric`` so far with its
setting, the elapsed time and an ETA, and each running trial's epoch. On a
terminal it redraws in place (rich's ``Live``); elsewhere (CI, ``ray job``
logs) it prints one plain line at most every ``PLAIN_INTERVAL_S``.
``mixup-tune status`` shows the same ``SweepProgress`` from MLflow.

Ray pickles the reporter with the sweep's run config and gives it back on
``resume``, so what this driver's invocation decides (``--quiet``, where the
output goes) is not kept on the reporter but set per process (``configure``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ray.tune import ProgressReporter
from rich.console import Console
from rich.live import Live

from trainables.config import option_value

from .progress import SweepProgress, TrialProgress, failure_lines, render, summary_line
from .records.store import error_line

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

_ABSENT = object()
PLAIN_INTERVAL_S = 10.0  # without a terminal: a line at most this often (s), and one at the end
LIVE_INTERVAL_S = 0.5  # on a terminal: redrawn at most this often (s)
_STATUS = {"PENDING": "pending", "RUNNING": "running", "PAUSED": "pending", "ERROR": "failed"}


class _Output:
    """This process's choice of output: set by ``configure``, read by every reporter, unpickled ones too."""

    quiet = False
    console: Console | None = None
    drawing: LiveView | None = None  # the reporter drawing in place now, for ``stop_drawing``


def configure(quiet: bool, console: Console | None = None) -> None:
    """``--quiet`` (no live view; the closing summary still prints), and the console to draw on."""
    _Output.quiet = quiet
    _Output.console = console


def stop_drawing() -> None:
    """Leave the last view on screen and give the terminal back (after Ctrl-C too, before the summary)."""
    if _Output.drawing is not None:
        _Output.drawing.close()


class LiveView(ProgressReporter):
    """Ray Tune's ``ProgressReporter`` API over ``SweepProgress``."""

    def __init__(
        self,
        name: str,
        metric: str,
        mode: str,
        swept: list[str],
        skipped: int = 0,
        best_before: TrialProgress | None = None,
    ) -> None:
        self.name, self.metric, self.mode, self.swept = name, metric, mode, swept
        self.skipped = skipped  # trials FINISHED before this run, which it does not start
        self.best_before = best_before  # the best of those, so that the best shown is the sweep's
        self._start = time.time()
        self._total = 0
        self._concurrency = 1  # the most trials seen running at once
        self._reported = 0.0
        self._live: Live | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_live": None, "_reported": 0.0, "_errors": {}}

    def setup(
        self,
        start_time: float | None = None,
        total_samples: int | None = None,
        metric: str | None = None,
        mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._start = start_time or time.time()
        self._total = total_samples or 0

    def should_report(self, trials: list[Trial], done: bool = False) -> bool:
        if _Output.quiet:
            return False
        interval = LIVE_INTERVAL_S if self._console().is_terminal else PLAIN_INTERVAL_S
        return done or time.monotonic() - self._reported >= interval

    def report(self, trials: list[Trial], done: bool, *sys_info: str) -> None:
        self._reported = time.monotonic()
        progress = self.progress(trials)
        console = self._console()
        if not console.is_terminal:
            print(summary_line(progress) + _running_epochs(progress), flush=True)
            for line in failure_lines(progress) if done else []:
                print(line, flush=True)
            return
        if self._live is None:
            self._live = Live(console=console, auto_refresh=False, transient=False)
            self._live.start()
            _Output.drawing = self
        self._live.update(render(progress), refresh=True)
        if done:
            self.close()

    def close(self) -> None:
        """Stop drawing (at the end, or when the sweep is interrupted): the last view stays on screen."""
        if self._live is not None:
            self._live.stop()
            self._live = None
        _Output.drawing = None

    def progress(self, trials: list[Trial], now: float | None = None) -> SweepProgress:
        """The trials as a ``SweepProgress``: Ray's own times (``time_total_s`` and the result's
        ``timestamp``), so a restored sweep's trials count their earlier time too."""
        now = time.time() if now is None else now
        shown = [self._trial(trial, now) for trial in trials]
        running = sum(t.status == "running" for t in shown)
        self._concurrency = max(self._concurrency, running)
        progress = SweepProgress(
            self.name,
            self.metric,
            self.mode,
            max(self._total, len(shown)),
            now - self._start,
            shown,
            concurrency=self._concurrency,
            skipped=self.skipped,
            # a view unpickled from the state of a sweep begun before this attribute has none
            best_before=getattr(self, "best_before", None),
        )
        return progress

    def _trial(self, trial: Trial, now: float) -> TrialProgress:
        result = trial.last_result or {}
        status = _STATUS.get(trial.status, "finished")
        if status == "finished" and result.get("diverged"):
            status = "diverged"
        elapsed = float(result.get("time_total_s", 0.0))
        if status == "running" and "timestamp" in result:
            elapsed += max(0.0, now - float(result["timestamp"]))
        config = trial.config
        value = result.get(self.metric)
        return TrialProgress(
            " ".join(
                f"{key}={_short(option_value(config, key))}"
                for key in self.swept
                if option_value(config, key, _ABSENT) is not _ABSENT
            )
            or trial.trial_id,
            status,
            int(result.get("epoch", 0)),
            int(config.get("epochs", 0)),
            None if value is None else float(value),
            elapsed,
            trial.trial_id,
            self._error(trial) if status == "failed" else "",
        )

    def _error(self, trial: Trial) -> str:
        """A failed trial's error line, read from its error file once."""
        errors = self.__dict__.setdefault("_errors", {})  # a reporter unpickled from before has none
        if trial.trial_id not in errors:
            from .tracking import error_text

            errors[trial.trial_id] = error_line(error_text(trial))
        return str(errors[trial.trial_id])

    def _console(self) -> Console:
        if _Output.console is None:
            _Output.console = Console(highlight=False)
        return _Output.console


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _running_epochs(progress: SweepProgress) -> str:
    """For a plain line: each running trial's epoch, as ``[alpha=1 seed=0: 3/30]``."""
    running = [t for t in progress.trials if t.status == "running"]
    return "".join(f" [{t.label}: {t.epoch}/{t.epochs}]" for t in running[:8]) + (
        f" [+{len(running) - 8} more]" if len(running) > 8 else ""
    )
