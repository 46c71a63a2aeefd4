"""Several drivers, one MLflow store: a second driver of a live sweep refuses in one line, a dead driver's
sweep is resumed, and two sweeps side by side leave each other's runs alone (over every storage mode).

Driver A claims to run on another machine (``MIXUP_TUNE_HOST``), so this machine cannot see its process: after
its ``kill -9`` only its heartbeat lapsing frees the sweep, and ``resume`` waits for that. The same-machine
case, where the dead process is seen at once, is ``test_resume_integration``'s kill -9.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from helpers import CLI, kill_session, start_sweep
from mlflow.tracking import MlflowClient

from mixup_tune.records import tags
from mixup_tune.records.lease import HOST_VARIABLE, TTL_VARIABLE, Holder, this_host

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# one trial of ~60 s on this 2-core machine: still running while the other drivers start Ray and are refused
EPOCHS = 4000
# the lease's time to live here (s): a dead remote driver's lapses soon, but not before the resumed driver
# (which starts Ray first, 5-10 s) looks. At 20 s a live driver's heartbeat, starved on a loaded 2-core
# machine, once went 22 to 24 s without a beat, and `resume` found the lease lapsed instead of waiting.
TTL_S = "40"
SPEC = f"""\
name: shared
trainable: {{dataset: digits, model: mlp, hidden_sizes: [32], epochs: {EPOCHS}, batch_size: 128}}
search: {{alpha: [1]}}
tune: {{checkpoint_interval_s: 0.5}}
resources: {{cpu: 1, gpu: 0}}
"""
NEIGHBOUR = """\
name: neighbour
trainable: {dataset: digits, model: mlp, hidden_sizes: [16], epochs: 150, batch_size: 128}
search: {alpha: [0.5]}
resources: {cpu: 1, gpu: 0}
"""


def _mixup_tune(directory: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, TTL_VARIABLE: TTL_S},
    )


def _runs(client: MlflowClient, sweep: str, role: str) -> list:
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(
        experiments, f"tags.`{tags.SWEEP}` = '{sweep}' and tags.`{tags.ROLE}` = '{role}'"
    )


def _lease(client: MlflowClient, sweep: str) -> Holder | None:
    parents = _runs(client, sweep, "parent")
    return Holder.parse(parents[0].data.tags.get(tags.LEASE)) if parents else None


def _wait_for(condition, what: str, timeout: float = 240) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _epochs_once(client: MlflowClient, run_id: str, epochs: int) -> None:
    history = client.get_metric_history(run_id, "test_error")
    assert sorted(int(m.step) for m in history) == list(range(1, epochs + 1)), "every epoch exactly once"


# The scenario once, on sqlite: the lease's reads and writes run in every storage mode in
# tests/mixup_tune/test_lease.py, without a minute of training per mode.
@pytest.mark.parametrize("tracking_uri", ["sqlite"], indirect=True)
def test_one_driver_per_sweep_and_sweeps_side_by_side(tmp_path: Path, tracking_uri: str) -> None:
    (tmp_path / "shared.yaml").write_text(SPEC)
    (tmp_path / "neighbour.yaml").write_text(NEIGHBOUR)
    client = MlflowClient(tracking_uri)
    args = ["--tracking-uri", tracking_uri, "--storage", str(tmp_path / "ray"), "--quiet"]
    remote = start_sweep(
        tmp_path, "shared.yaml", args, env={HOST_VARIABLE: "another-machine", TTL_VARIABLE: TTL_S}
    )
    neighbour = start_sweep(tmp_path, "neighbour.yaml", args)
    try:

        def under_way() -> bool:  # the trial reported (Ray's storage has each result at once)
            results = list((tmp_path / "ray" / "shared").glob("*/result.json"))
            return len(results) == 1 and len(results[0].read_text().splitlines()) >= 20

        _wait_for(under_way, "the sweep's trial to be under way")
        holder = _lease(client, "shared")
        assert holder is not None and holder.host == "another-machine"
        assert remote.poll() is None

        # A second `run` refuses at once: the lease has not lapsed, and this machine cannot see its driver.
        second = _mixup_tune(tmp_path, "run", "shared.yaml", *args)
        assert second.returncode == 2 and second.stderr.count("\n") == 1, second.stderr[-2000:]
        assert "sweep 'shared' is running: its driver on another-machine" in second.stderr
        assert "its lease lapses in" in second.stderr and "mixup-tune resume shared" in second.stderr
        # `resume` waits, sees the heartbeat move, and refuses: a live sweep is never taken over.
        waited = _mixup_tune(tmp_path, "resume", "shared", *args)
        assert waited.returncode == 2 and "is alive (its heartbeat moved" in waited.stderr, waited.stderr[
            -2000:
        ]
        assert "waiting up to" in waited.stderr
        assert remote.poll() is None, "the live sweep was not disturbed"
    finally:
        os.killpg(remote.pid, 9)  # kill -9 of driver A (and its local Ray)
        remote.communicate(timeout=60)
        kill_session(remote.pid)
    assert {r.info.status for r in _runs(client, "shared", "trial")} == {"RUNNING"}, (
        "left so by a dead driver"
    )
    dead = _lease(client, "shared")
    assert dead is not None and dead.host == "another-machine", "a dead driver's lease stays"
    # Its last beat may be most of a TTL old by now on a loaded machine (CI saw the lease lapse before
    # `resume` first looked, so it never had to wait). Stamp it as a driver that died just now leaves it.
    last_beat = replace(dead, heartbeat=time.time())
    parent = _runs(client, "shared", "parent")[0]
    client.set_tag(parent.info.run_id, tags.LEASE, last_beat.text())

    # From this machine, `resume` waits for the dead remote driver's lease to lapse, then takes over.
    resumed = subprocess.Popen(
        [CLI, "resume", "shared", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, TTL_VARIABLE: TTL_S},
        start_new_session=True,
    )
    try:

        def taken_over() -> bool:
            holder = _lease(client, "shared")
            return holder is not None and holder.host == this_host()

        _wait_for(taken_over, "the resumed driver to take the lease")
        new_holder = _lease(client, "shared")
        assert new_holder is not None and new_holder.heartbeat >= last_beat.heartbeat + float(TTL_S), (
            "taken only once the dead driver's lease had lapsed"
        )
        # now held on this machine by a live process: refused at once, without waiting
        third = _mixup_tune(tmp_path, "run", "shared.yaml", *args)
        assert third.returncode == 2 and third.stderr.count("\n") == 1, third.stderr[-2000:]
        assert f"its driver on {this_host()} (pid {resumed.pid}) holds it" in third.stderr
        stdout, stderr = resumed.communicate(timeout=400)
    finally:
        kill_session(resumed.pid)
    assert resumed.returncode == 0, stdout[-3000:] + stderr[-3000:]
    assert "waiting up to" in stderr and "lapsed (no heartbeat for" in stderr, stderr[-3000:]

    output, _ = neighbour.communicate(timeout=300)
    kill_session(neighbour.pid)
    assert neighbour.returncode == 0, output[-3000:]

    # Each sweep's runs: every trial once, FINISHED, every epoch once; the parents closed, their leases gone.
    for sweep, trials, epochs in (("shared", 1, EPOCHS), ("neighbour", 1, 150)):
        runs = _runs(client, sweep, "trial")
        assert len(runs) == trials and len({r.data.tags[tags.TRIAL_ID] for r in runs}) == trials
        assert {r.info.status for r in runs} == {"FINISHED"}
        for run in runs:
            _epochs_once(client, run.info.run_id, epochs)
        (parent,) = _runs(client, sweep, "parent")
        assert parent.info.status == "FINISHED" and tags.LEASE not in parent.data.tags
        assert {r.data.tags[tags.PARENT_RUN] for r in runs} == {parent.info.run_id}


LOSES_THE_RACE = """
import sys
from mixup_tune.records.lease import LeaseHeld, SweepLease
def lost(self):
    raise LeaseHeld("sweep 'raced' is running: another driver took it at the same moment")
SweepLease.confirm = lost
from mixup_tune.cli import console_main
sys.argv = ["mixup-tune", *sys.argv[1:]]
console_main()
"""


def test_a_driver_that_lost_the_race_for_a_lease_leaves_rays_storage_alone(tmp_path: Path) -> None:
    # Two drivers that take a free lease at the same moment are told apart only when it is read back
    # (records.lease); the race itself cannot be timed from a test, so this driver is told it lost.
    (tmp_path / "spec.yaml").write_text(NEIGHBOUR.replace("neighbour", "raced"))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    storage = tmp_path / "ray"
    args = ["run", "spec.yaml", "--tracking-uri", uri, "--storage", str(storage), "--quiet"]
    result = subprocess.run(
        [sys.executable, "-c", LOSES_THE_RACE, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2 and "at the same moment" in result.stderr, result.stdout + result.stderr
    # the winner's tuner.pkl (its spec and callback, which `resume` restores) is not overwritten
    assert not [path for path in storage.rglob("*") if path.is_file()], "nothing written to Ray's storage"
    [parent] = _runs(MlflowClient(uri), "raced", "parent")
    assert tags.LEASE not in parent.data.tags, "and the lease it took is released"
