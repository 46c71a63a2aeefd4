"""Watching a sweep, through the installed command: ``plan`` before it, the live view and ``status`` while
it runs, and ``status`` after it, against what MLflow holds. A real local Ray, a real MLflow store, real
training.

On sqlite only: watching reads the record through the client, whose storage modes the record contract tests
cover (test_sweep_integration, test_bulk_read). That ``plan`` creates nothing holds in every mode:
``test_plan_creates_nothing_in_any_store``.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import CLI, cli_in_process
from mlflow.tracking import MlflowClient

from mixup_tune.records import parse_param

pytestmark = pytest.mark.integration
SQLITE = pytest.mark.parametrize("tracking_uri", ["sqlite"], indirect=True)

TRIALS = 6
EPOCHS = 300  # about 3 s a trial on a CI core: the sweep's trials take ~12 s, two at a time
SPEC = f"""\
name: {{name}}
experiment: mixup-watching
trainable: {{{{dataset: digits, model: mlp, hidden_sizes: [128, 128], epochs: {EPOCHS}, batch_size: 64}}}}
search:
  alpha: [0, 1]
  seed: [0, 1, 2]
resources: {{{{cpu: 1, gpu: 0}}}}
"""
_LIVE_LINE = re.compile(r"^sweep (\S+): (\d+)/(\d+) finished")


def mixup_tune(*args: str, cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _mlflow_trials(client: MlflowClient, name: str) -> dict[str, tuple[str, int]]:
    """Each trial run's (status, latest epoch), by its trial key, as MLflow has it now."""
    experiment = client.get_experiment_by_name("mixup-watching")
    if experiment is None:
        return {}
    query = f"tags.`mixup_tune.sweep` = '{name}' and tags.`mixup_tune.role` = 'trial'"
    trials = {}
    for run in client.search_runs([experiment.experiment_id], query):
        history = client.get_metric_history(run.info.run_id, "test_error")
        trials[run.data.tags["mixup_tune.trial_id"]] = (
            run.info.status,
            max((m.step for m in history), default=0),
        )
    return trials


def looked_parent(client: MlflowClient, name: str) -> str:
    experiment = client.get_experiment_by_name("mixup-watching")
    query = f"tags.`mixup_tune.sweep` = '{name}' and tags.`mixup_tune.role` = 'parent'"
    return client.search_runs([experiment.experiment_id], query)[0].info.run_id


def _midway(status: dict) -> bool:
    return status["status"] == "RUNNING" and status["running"] > 0 and status["finished"] > 0


@dataclass
class Watched:
    name: str
    workdir: Path
    tracking_uri: str
    before: list[str]  # the work directory's files before the sweep, after `plan`
    plan: subprocess.CompletedProcess[str]
    output: list[tuple[float, str]] = field(default_factory=list)  # the sweep's stdout lines, timed
    returncode: int = -1
    during: list[tuple[dict, dict, dict]] = field(
        default_factory=list
    )  # (MLflow before, status, MLflow after)
    watch: subprocess.CompletedProcess[str] | None = None
    analyzed: list[subprocess.CompletedProcess[str]] = field(default_factory=list)  # midway: plain, --partial
    logged_meanwhile: list[str] = field(default_factory=list)  # the parent's analysis/ artifacts after them

    def mixup_tune(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A look from this process (``status``, ``analyze``, ``plan``): none starts Ray."""
        return cli_in_process(*args, "--tracking-uri", self.tracking_uri, cwd=self.workdir)


@pytest.fixture(scope="module")
def watched(tracking_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Watched:
    workdir = tmp_path_factory.mktemp("watching")
    name = "watch-server" if tracking_uri.startswith("http") else "watch-sqlite"
    (workdir / "sweep.yaml").write_text(SPEC.format(name=name))
    plan = mixup_tune("plan", "sweep.yaml", "--tracking-uri", tracking_uri, cwd=workdir)
    watched = Watched(name, workdir, tracking_uri, sorted(os.listdir(workdir)), plan)
    client = MlflowClient(tracking_uri)
    assert client.get_experiment_by_name("mixup-watching") is None  # plan created nothing on a server either

    sweep = subprocess.Popen(
        [CLI, "run", "sweep.yaml", "--tracking-uri", tracking_uri],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    started = time.monotonic()

    def read() -> None:
        assert sweep.stdout is not None
        for line in sweep.stdout:
            watched.output.append((time.monotonic() - started, line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # the experiment exists once the driver has checked the data and opened its record
        while client.get_experiment_by_name("mixup-watching") is None and sweep.poll() is None:
            time.sleep(0.5)
        watcher = subprocess.Popen(
            [CLI, "status", name, "--watch", "2", "--tracking-uri", tracking_uri],
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # look from a second shell while the trials run, until two looks found trials both finished and
        # running; a second apart, as each look is a process that takes a core from the trials for a second
        while sweep.poll() is None and sum(_midway(status) for _, status, _ in watched.during) < 2:
            before = _mlflow_trials(client, name)
            looked = watched.mixup_tune("status", name, "--json")
            after = _mlflow_trials(client, name)
            if looked.returncode == 0:
                watched.during.append((before, json.loads(looked.stdout), after))
                if _midway(watched.during[-1][1]) and not watched.analyzed:  # analyze, once, meanwhile
                    watched.analyzed = [
                        watched.mixup_tune("analyze", name, "--out", "final"),
                        watched.mixup_tune("analyze", name, "--partial", "--out", "partial"),
                    ]
                    watched.logged_meanwhile = [
                        a.path for a in client.list_artifacts(looked_parent(client, name), "analysis")
                    ]
            time.sleep(1.0)
        watched.returncode = sweep.wait(timeout=300)
        out, err = watcher.communicate(timeout=60)
        watched.watch = subprocess.CompletedProcess(watcher.args, watcher.returncode, out, err)
    finally:
        if sweep.poll() is None:
            sweep.kill()
        reader.join(timeout=10)
    assert watched.returncode == 0, "\n".join(line for _, line in watched.output[-40:])
    return watched


@SQLITE
def test_plan_counts_the_trials_run_then_runs_and_creates_nothing(watched: Watched) -> None:
    assert watched.plan.returncode == 0, watched.plan.stderr
    assert re.search(rf"trials `run` starts\s+│\s+{TRIALS}\b", watched.plan.stdout), watched.plan.stdout
    assert watched.before == ["sweep.yaml"]  # no sqlite file, no Ray storage
    summary = "\n".join(line for _, line in watched.output)
    assert re.search(rf"trials run this time\s+│\s+{TRIALS}\b", summary), summary
    assert len(_mlflow_trials(MlflowClient(watched.tracking_uri), watched.name)) == TRIALS


@SQLITE
def test_plan_after_the_run_skips_what_finished_and_counts_a_new_axis_value(watched: Watched) -> None:
    again = watched.mixup_tune("plan", "sweep.yaml")
    assert again.returncode == 0, again.stderr
    assert re.search(rf"already FINISHED, skipped\s+│\s+{TRIALS}\b", again.stdout)
    assert re.search(r"trials `run` starts\s+│\s+0\b", again.stdout)
    grown = watched.mixup_tune("plan", "sweep.yaml", "--set", "alpha=[0, 1, 2]")
    per_alpha = TRIALS // 2
    assert re.search(rf"trials `run` starts\s+│\s+{per_alpha}\b", grown.stdout), grown.stdout
    # per value: the new alpha's trials to run, none skipped; an old one's skipped
    assert re.search(rf"alpha\s+│\s+2\s+│\s+{per_alpha}\s+│\s+0", grown.stdout), grown.stdout
    assert re.search(rf"alpha\s+│\s+1\s+│\s+0\s+│\s+{per_alpha}", grown.stdout), grown.stdout


@SQLITE
def test_status_during_the_sweep_matches_mlflow(watched: Watched) -> None:
    midway = [look for look in watched.during if _midway(look[1])]
    assert midway, f"status never caught trials finished and running in {len(watched.during)} looks"
    assert all(status["eta_s"] > 0 and status["best"] is not None for _, status, _ in midway)
    for before, status, after in watched.during:
        assert status["total"] == TRIALS
        seen = {trial["key"]: (trial["status"], trial["epoch"]) for trial in status["trials"]}
        assert set(before) <= set(seen) <= set(after)
        for key, (state, epoch) in seen.items():
            # what status read lies between what MLflow held just before and just after
            assert state in {before.get(key, ("RUNNING", 0))[0].lower(), after[key][0].lower()}
            assert before.get(key, ("", 0))[1] <= epoch <= after[key][1]
        counted = sum(state == "finished" for state, _ in seen.values())
        assert counted == status["finished"]
        assert status["pending"] == TRIALS - len(seen) + sum(s == "stopped" for s, _ in seen.values())


@SQLITE
def test_status_after_the_sweep_equals_mlflow(watched: Watched) -> None:
    done = watched.mixup_tune("status", watched.name, "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert (status["status"], status["finished"], status["running"], status["pending"]) == (
        "FINISHED",
        TRIALS,
        0,
        0,
    )
    assert status["eta_s"] is None  # no driver: no ETA
    client = MlflowClient(watched.tracking_uri)
    experiment = client.get_experiment_by_name("mixup-watching")
    runs = client.search_runs([experiment.experiment_id], f"tags.`mixup_tune.sweep` = '{watched.name}'")
    errors = {
        f"alpha={parse_param(run.data.params['alpha'])} seed={parse_param(run.data.params['seed'])}": value
        for run in runs
        for value in [run.data.metrics.get("test_error")]
        if value is not None
    }
    assert {t["label"]: t["value"] for t in status["trials"]} == errors
    assert {t["epoch"] for t in status["trials"]} == {EPOCHS}
    # trials may tie on the best error (CI saw two at the same value): any of them is the best
    best_value = min(errors.values())
    assert status["best"]["value"] == best_value
    assert status["best"]["setting"] in {label for label, value in errors.items() if value == best_value}
    table = watched.mixup_tune("status", watched.name)
    assert f"sweep {watched.name}: {TRIALS}/{TRIALS} finished; best test_error" in table.stdout
    assert "no driver is running it" in table.stdout


@SQLITE
def test_status_watch_follows_the_sweep_to_its_end(watched: Watched) -> None:
    assert watched.watch is not None and watched.watch.returncode == 0, watched.watch
    lines = [line for line in watched.watch.stdout.splitlines() if _LIVE_LINE.match(line)]
    assert len(lines) >= 2 and lines[-1].startswith(f"sweep {watched.name}: {TRIALS}/{TRIALS} finished"), (
        lines
    )
    assert "FINISHED: no driver is running it" in watched.watch.stdout


@SQLITE
def test_the_live_view_without_a_terminal_prints_a_line_at_most_every_10_s(watched: Watched) -> None:
    lines = [(at, line) for at, line in watched.output if _LIVE_LINE.match(line)]
    assert len(lines) >= 2, watched.output
    # every line but the last (printed when the sweep is done) waited 10 s after the one before, by the
    # sweep's own clock (the elapsed time each line prints, in whole seconds): when the line reached this
    # process is the pipe's and the scheduler's business, which on a busy machine lags by seconds
    times = [_elapsed_s(line) for _, line in lines[:-1]]
    assert all(later - earlier >= 9 for earlier, later in zip(times, times[1:])), times
    finished = [int(_LIVE_LINE.match(line)[2]) for _, line in lines]  # type: ignore[index]
    assert finished == sorted(finished) and finished[-1] == TRIALS
    assert lines[-1][1].startswith(f"sweep {watched.name}: {TRIALS}/{TRIALS} finished; best test_error ")
    assert any(re.search(rf"running.*ETA \d.*\[alpha=\d seed=\d: \d+/{EPOCHS}\]", line) for _, line in lines)


def _elapsed_s(line: str) -> int:
    """The whole seconds a live line says the sweep has run (``elapsed 1 min 05 s``, ``elapsed 42 s``)."""
    found = re.search(r"elapsed (?:(\d+) h )?(?:(\d+) min )?(\d+) s", line)
    assert found, line
    hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return 3600 * hours + 60 * minutes + seconds


@SQLITE
def test_analyze_on_a_running_sweep_refuses_or_marks_every_file_partial(watched: Watched) -> None:
    plain, partial = watched.analyzed
    assert plain.returncode == 2 and "is still running" in plain.stderr and "--partial" in plain.stderr
    assert not (watched.workdir / "final").exists()
    assert partial.returncode == 0, partial.stderr
    written = sorted(path.name for path in (watched.workdir / "partial").iterdir())
    assert written and all(Path(name).stem.endswith("-partial") for name in written), written
    report = (watched.workdir / "partial" / "report-partial.md").read_text()
    assert report.splitlines()[0].endswith("(PARTIAL)")
    counts = re.search(rf"\((\d+) of {TRIALS} trials ended, (\d+) running, (\d+) not started\)", report)
    assert counts and int(counts[1]) < TRIALS and int(counts[2]) > 0, report[:600]
    # its links point at the marked files, and nothing was logged where the final analysis goes
    assert "(runs-partial.csv)" in report and "(runs.csv)" not in report
    assert watched.logged_meanwhile == []


@SQLITE
def test_the_parent_run_holds_the_comparison_figures(watched: Watched) -> None:
    client = MlflowClient(watched.tracking_uri)
    logged = {a.path for a in client.list_artifacts(looked_parent(client, watched.name), "comparison")}
    assert {
        "comparison/comparison_parallel_coordinates.png",
        "comparison/comparison_by_setting.csv",
        "comparison/comparison.md",
    } <= logged, logged
    # alpha is the one hyperparameter swept (the seed is not one): nothing to rank
    assert "comparison/comparison_importance.png" not in logged


@SQLITE
def test_status_of_an_unknown_sweep_is_one_line_and_exit_2(watched: Watched) -> None:
    missing = watched.mixup_tune("status", "no-such-sweep")
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "no sweep named 'no-such-sweep'" in missing.stderr
    assert watched.mixup_tune("status", watched.name, "--watch", "0").returncode == 2


def test_on_a_terminal_the_live_view_redraws_in_place(tmp_path: Path) -> None:
    """Under a pseudo-terminal, rich's Live moves the cursor back over its last view, not adding lines."""
    (tmp_path / "sweep.yaml").write_text(
        SPEC.format(name="watch-tty").replace(f"epochs: {EPOCHS}", "epochs: 100").replace(", 1, 2]", ", 1]")
    )
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "140", "LINES": "40"}
    sweep = subprocess.Popen(
        [CLI, "run", "sweep.yaml", "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}"],
        cwd=tmp_path,
        stdin=follower,
        stdout=follower,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the sweep is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert sweep.wait(timeout=120) == 0
    text = b"".join(chunks).decode(errors="replace")
    assert "\x1b[2K" in text or "\x1b[1A" in text, "no cursor movement: the view was not redrawn in place"
    assert "sweep watch-tty: 4/4 finished" in text
