"""The tracking store fails mid-sweep: the trials go on, their results stay in Ray's storage, and
`mixup-tune sync` copies them to MLflow once the store is back, with nothing lost or logged twice.

In each storage mode (``STORAGE_MODES``; the servers' in the slow tier) the store fails its own way: a
tracking server is killed (SIGKILL) and later started again on the same port and database; a sqlite file is
locked by another process (an exclusive transaction, as a long writer would hold it), which every read and
write of the sweep's store waits on (MLflow's busy timeout, 20 s) and then fails, until the lock is let go;
the PostgreSQL database behind a tracking server crashes (an immediate shutdown) while the server stays up,
and is started again."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from helpers import (
    cli_in_process,
    kill_session,
    postgres_server,
    start_mlflow_server,
    start_sweep,
    stop_server,
    storage_matrix,
)
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.integration

# ~12 s a trial: both must still be running when the server dies, even
# if one started seconds late on a loaded machine
EPOCHS = 250
SPEC = f"""\
name: outage
trainable: {{dataset: digits, model: mlp, hidden_sizes: [32], epochs: {EPOCHS}, batch_size: 64}}
search: {{alpha: [0, 1]}}
log_models: true
resources: {{cpu: 1, gpu: 0}}
"""


def _trial_runs(client: MlflowClient) -> list:
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(
        experiments, "tags.`mixup_tune.sweep` = 'outage' and tags.`mixup_tune.role` = 'trial'"
    )


def _sync(directory: Path, uri: str) -> subprocess.CompletedProcess[str]:
    """`mixup-tune sync outage`, as a user runs it once the store is back (in this process: sync starts no
    Ray)."""
    return cli_in_process("sync", "outage", "--tracking-uri", uri, cwd=directory)


def _stored_test_errors(storage: Path) -> dict[float, list[tuple[int, float]]]:
    """Each trial's (epoch, test error) as Ray stored them, by alpha."""
    stored = {}
    for path in storage.glob("outage/*/result.json"):
        results = [json.loads(line) for line in path.read_text().splitlines()]
        stored[results[0]["config"]["alpha"]] = [(r["epoch"], r["test_error"]) for r in results]
    return stored


class ServerOutage:
    """A tracking server that dies (SIGKILL) and comes back on the same port and database."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.server, self.uri = start_mlflow_server(root)

    def begin(self) -> None:
        os.killpg(self.server.pid, signal.SIGKILL)
        self.server.wait(timeout=30)

    def end(self) -> None:
        self.server, _ = start_mlflow_server(self.root, int(self.uri.rsplit(":", 1)[1]))

    def close(self) -> None:
        stop_server(self.server)


class PostgresOutage:
    """A tracking server whose PostgreSQL database goes down (``pg_ctl stop -m immediate``) and comes back."""

    def __init__(self, root: Path) -> None:
        self.database = postgres_server()
        self.server, self.uri = start_mlflow_server(root, backend=self.database.new_database())

    def begin(self) -> None:
        self.database.stop()

    def end(self) -> None:
        self.database.start()

    def close(self) -> None:
        if not (self.database.data / "postmaster.pid").exists():  # the test failed mid-outage
            self.database.start()
        stop_server(self.server)


class SqliteOutage:
    """A sqlite store that another process locks (``BEGIN EXCLUSIVE``), then lets go of."""

    def __init__(self, root: Path) -> None:
        self.path = root / "mlflow.db"
        self.uri = f"sqlite:///{self.path}"
        self.lock: sqlite3.Connection | None = None

    def begin(self) -> None:
        self.lock = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.lock.execute("BEGIN EXCLUSIVE")

    def end(self) -> None:
        self.close()

    def close(self) -> None:
        if self.lock is not None:
            self.lock.execute("ROLLBACK")
            self.lock.close()
            self.lock = None


@pytest.mark.parametrize("storage", storage_matrix())
def test_the_store_fails_mid_sweep_then_sync_backfills_everything(tmp_path: Path, storage: str) -> None:
    outage = {"server": ServerOutage, "postgres": PostgresOutage, "sqlite": SqliteOutage}[storage](tmp_path)
    try:
        _outage_then_sync(tmp_path, outage)
    finally:
        outage.close()


def _outage_then_sync(tmp_path: Path, outage: ServerOutage | PostgresOutage | SqliteOutage) -> None:
    uri = outage.uri
    (tmp_path / "spec.yaml").write_text(SPEC)
    client = MlflowClient(uri)
    args = ["--tracking-uri", uri, "--storage", str(tmp_path / "ray"), "--quiet"]
    sweep = start_sweep(tmp_path, "spec.yaml", args)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # both trials under way and logging
            # A trial's first epoch is written at once, the next ones every
            # FLUSH_INTERVAL_S (2 s) of its ~12 s.
            steps = [len(client.get_metric_history(r.info.run_id, "test_error")) for r in _trial_runs(client)]
            if len(steps) == 2 and min(steps) >= 1:
                break
            time.sleep(0.5)
        outage.begin()
        output, _ = sweep.communicate(timeout=300)
    finally:
        kill_session(sweep.pid)
    assert sweep.returncode == 1, output[-3000:]
    assert "MLflow stopped answering" in output and "mixup-tune sync outage" in output, output[-3000:]
    stored = _stored_test_errors(tmp_path / "ray")
    assert sorted(stored) == [0, 1] and all(
        [e for e, _ in v] == list(range(1, EPOCHS + 1)) for v in stored.values()
    ), "the trials went on"

    outage.end()  # back, on the same store
    client = MlflowClient(uri)
    before = _trial_runs(client)
    assert {r.info.status for r in before} == {"RUNNING"}
    assert all(len(client.get_metric_history(r.info.run_id, "test_error")) < EPOCHS for r in before)

    synced = _sync(tmp_path, uri)
    assert synced.returncode == 0, synced.stdout[-3000:] + synced.stderr[-3000:]
    copied = int(re.search(r"epoch results copied\s+│ (\d+)", synced.stdout).group(1))
    assert copied > 0

    after = _trial_runs(client)
    assert sorted(r.info.run_id for r in after) == sorted(r.info.run_id for r in before), "no run duplicated"
    for run in after:
        assert run.info.status == "FINISHED"
        history = sorted(client.get_metric_history(run.info.run_id, "test_error"), key=lambda m: m.step)
        assert [(int(m.step), m.value) for m in history] == stored[float(run.data.params["alpha"])], (
            "every epoch once, as Ray stored it"
        )
        assert run.data.metrics["last_test_error"] == history[-1].value
        assert [a.path for a in client.list_artifacts(run.info.run_id, "model")] == ["model/model.pt"]
    [parent] = client.search_runs([after[0].info.experiment_id], "tags.`mixup_tune.role` = 'parent'")
    assert parent.info.status == "FINISHED"

    again = _sync(tmp_path, uri)
    assert again.returncode == 0 and re.search(r"epoch results copied\s+│ 0 ", again.stdout), again.stdout

    for state in (tmp_path / "ray" / "outage").glob("experiment_state-*.json"):
        state.write_text("{ cut short")  # as if a disk filled up mid-write
    broken = _sync(tmp_path, uri)
    assert broken.returncode == 2 and broken.stderr.count("\n") == 1 and "cannot be read" in broken.stderr, (
        broken.stderr
    )
