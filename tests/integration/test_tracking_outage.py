"""The tracking server dies mid-sweep: the trials go on, their results stay in Ray's storage, and
`mixup-tune sync` copies them to MLflow once the server is back, with nothing lost or logged twice."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers import CLI, kill_session, start_mlflow_server
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.integration

# ~12 s a trial: both must still be running when the server dies, even if one started seconds late on a loaded
# machine
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


def _stored_test_errors(storage: Path) -> dict[float, list[tuple[int, float]]]:
    """Each trial's (epoch, test error) as Ray stored them, by alpha."""
    stored = {}
    for path in storage.glob("outage/*/result.json"):
        results = [json.loads(line) for line in path.read_text().splitlines()]
        stored[results[0]["config"]["alpha"]] = [(r["epoch"], r["test_error"]) for r in results]
    return stored


def test_server_dies_mid_sweep_then_sync_backfills_everything(tmp_path: Path) -> None:
    server, uri = start_mlflow_server(tmp_path)
    port = int(uri.rsplit(":", 1)[1])
    (tmp_path / "spec.yaml").write_text(SPEC)
    client = MlflowClient(uri)
    args = ["--tracking-uri", uri, "--storage", str(tmp_path / "ray"), "--quiet"]
    sweep = subprocess.Popen(
        [CLI, "run", "spec.yaml", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # both trials under way and logging
            # A trial's first epoch is written at once, the next ones every FLUSH_INTERVAL_S (2 s) of its ~12
            # s.
            steps = [len(client.get_metric_history(r.info.run_id, "test_error")) for r in _trial_runs(client)]
            if len(steps) == 2 and min(steps) >= 1:
                break
            time.sleep(0.5)
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        output, _ = sweep.communicate(timeout=300)
    finally:
        kill_session(sweep.pid)
    assert sweep.returncode == 1, output[-3000:]
    assert "MLflow stopped answering" in output and "mixup-tune sync outage" in output, output[-3000:]
    stored = _stored_test_errors(tmp_path / "ray")
    assert sorted(stored) == [0, 1] and all(
        [e for e, _ in v] == list(range(1, EPOCHS + 1)) for v in stored.values()
    ), "the trials went on"

    server, uri = start_mlflow_server(tmp_path, port)  # back, on the same store
    try:
        client = MlflowClient(uri)
        before = _trial_runs(client)
        assert {r.info.status for r in before} == {"RUNNING"}
        assert all(len(client.get_metric_history(r.info.run_id, "test_error")) < EPOCHS for r in before)

        synced = subprocess.run(
            [CLI, "sync", "outage", "--tracking-uri", uri],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert synced.returncode == 0, synced.stdout[-3000:] + synced.stderr[-3000:]
        copied = int(re.search(r"epoch results copied\s+│ (\d+)", synced.stdout).group(1))
        assert copied > 0

        after = _trial_runs(client)
        assert sorted(r.info.run_id for r in after) == sorted(r.info.run_id for r in before), (
            "no run duplicated"
        )
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

        again = subprocess.run(
            [CLI, "sync", "outage", "--tracking-uri", uri],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert again.returncode == 0 and re.search(r"epoch results copied\s+│ 0 ", again.stdout), again.stdout

        for state in (tmp_path / "ray" / "outage").glob("experiment_state-*.json"):
            state.write_text("{ cut short")  # as if a disk filled up mid-write
        broken = subprocess.run(
            [CLI, "sync", "outage", "--tracking-uri", uri],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert (
            broken.returncode == 2 and broken.stderr.count("\n") == 1 and "cannot be read" in broken.stderr
        ), broken.stderr
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
