"""The ETA and the summary line that the live view and ``mixup-tune status`` share (``mixup_tune.progress``).

The ETA is checked against a schedule simulated trial by trial: trials of
known durations placed on slots as Ray places them, looked at part way.
"""

from __future__ import annotations

import heapq
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixup_tune.progress import SweepProgress, TrialProgress, duration, estimate_eta, render, summary_line


def _schedule(durations: list[float], slots: int) -> list[tuple[float, float]]:
    """Each trial's (start, end) when trials start in order on the first free slot."""
    free = [0.0] * slots
    spans = []
    for length in durations:
        start = heapq.heappop(free)
        spans.append((start, start + length))
        heapq.heappush(free, start + length)
    return spans


def _look(spans: list[tuple[float, float]], at: float, epochs: int) -> tuple[list[float], list, int]:
    """What a view sees at ``at``: finished durations, running (elapsed, epochs done, epochs), pending."""
    finished = [end - start for start, end in spans if end <= at]
    running = [
        (at - start, int((at - start) / (end - start) * epochs), epochs)
        for start, end in spans
        if start <= at < end
    ]
    pending = sum(start > at for start, _ in spans)
    return finished, running, pending


@given(
    trials=st.integers(2, 40),
    slots=st.integers(1, 6),
    length=st.floats(0.5, 500),
    fraction=st.floats(0.05, 0.95),
)
@settings(max_examples=200, deadline=None)
def test_with_equal_trials_the_eta_is_the_schedules_real_end(
    trials: int, slots: int, length: float, fraction: float
) -> None:
    spans = _schedule([length] * trials, slots)
    end = max(e for _, e in spans)
    at = fraction * end
    finished, running, pending = _look(spans, at, epochs=10)
    if not finished:  # before any trial ends: only the running trials' own pace, tested below
        return
    eta = estimate_eta(finished, running, pending, slots)
    assert eta == pytest.approx(end - at, rel=1e-9, abs=1e-6)


def test_before_any_trial_ends_the_running_trials_pace_stands_for_the_rest() -> None:
    # two trials on two slots, 2 of 10 epochs done in 20 s: 100 s a trial; 2 more pending
    eta = estimate_eta([], [(20.0, 2, 10), (20.0, 2, 10)], pending=2, concurrency=2)
    assert eta == pytest.approx(80 + 100)


def test_unequal_trials_are_estimated_within_their_spread() -> None:
    durations = [10.0, 14.0, 8.0, 12.0] * 4  # 16 trials, mean 11 s
    spans = _schedule(durations, 2)
    end = max(e for _, e in spans)
    finished, running, pending = _look(spans, end / 2, epochs=10)
    eta = estimate_eta(finished, running, pending, 2)
    assert eta is not None and abs(eta - end / 2) / (end / 2) < 0.3


def test_no_information_is_no_eta_and_nothing_left_is_zero() -> None:
    assert estimate_eta([], [(5.0, 0, 10)], pending=3, concurrency=2) is None
    assert estimate_eta([], [], pending=0, concurrency=2) == 0.0
    assert estimate_eta([10.0], [], pending=0, concurrency=2) == 0.0


def _progress(**changes: object) -> SweepProgress:
    trials = [
        TrialProgress("alpha=0", "finished", 30, 30, 12.5, 40.0),
        TrialProgress("alpha=1", "finished", 30, 30, 9.25, 40.0),
        TrialProgress("alpha=4", "diverged", 3, 30, None, 4.0),
        TrialProgress("alpha=2", "running", 15, 30, 11.0, 20.0),
        TrialProgress("alpha=8", "failed", 2, 30, 80.0, 3.0),
    ]
    progress = SweepProgress("demo", "test_error", "min", 8, 100.0, trials, concurrency=1)
    for key, value in changes.items():
        setattr(progress, key, value)
    return progress


def test_counts_best_and_eta_in_the_summary_line() -> None:
    progress = _progress()
    assert progress.counts() == {"finished": 2, "running": 1, "pending": 3, "failed": 1, "diverged": 1}
    assert progress.best is not None and progress.best.label == "alpha=1"
    assert _progress(mode="max").best.label == "alpha=8"  # type: ignore[union-attr]
    # mean of the finished and diverged trials: 28 s; the running trial has 8 s left, then 3 trials one by one
    assert progress.eta_s == pytest.approx(8 + 3 * 28)
    line = summary_line(progress)
    assert line.startswith("sweep demo: 2/8 finished, 1 running, 3 pending, 1 failed, 1 diverged;")
    assert "best test_error 9.25 (alpha=1)" in line and "ETA 1 min 32 s, ends ~" in line


def test_a_sweep_no_driver_runs_has_no_eta() -> None:
    progress = _progress(active=False)
    assert progress.eta_s is None
    assert summary_line(progress).endswith("; ran 1 min 40 s")


def test_render_lists_the_running_trials_epochs() -> None:
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(render(_progress()))
    text = console.export_text()
    assert re.search(r"alpha=2\s+running\s+15/30\s+11\s+20 s", text), text
    assert "alpha=0" not in text.split("\n", 1)[1]  # only running trials below the line


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "?"), (0.4, "0 s"), (59.6, "1 min 00 s"), (250, "4 min 10 s"), (3900, "1 h 05 min")],
)
def test_durations_read_as_people_write_them(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_render_says_why_each_failed_trial_failed_in_one_line() -> None:
    """The live view and `status` both render this: a failed trial's setting and its error line."""
    failed = [
        TrialProgress(f"seed={i}", "failed", 1, 5, error=f"ConfigError: model: unknown model 'net{i}'")
        for i in range(7)
    ]
    progress = SweepProgress(
        "s", "test_error", "min", 8, 3.0, [*failed, TrialProgress("seed=9", "running", 2, 5)]
    )
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(render(progress))
    lines = console.export_text().splitlines()
    assert "failed: seed=0: ConfigError: model: unknown model 'net0'" in lines
    assert "failed: seed=4: ConfigError: model: unknown model 'net4'" in lines
    assert (
        "failed: seed=5: ConfigError: model: unknown model 'net5'" not in lines
        and "... and 2 more failed" in lines
    )
