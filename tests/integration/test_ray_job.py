"""`mixup-tune run` as a Ray job (`ray job submit`) on a loopback head with its dashboard and token auth on,
recording into a tracking server; then a job stopped mid-sweep (`ray job stop`) and resumed from a client.

The head is started by `ray start --head --include-dashboard=true` (the dashboard's job server needs
``ray[default]``: the ``mixup-tune[cluster]`` extra), and every job command is Ray's own CLI, as a user runs
it, with the token in the environment only.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster import RAY, LoopbackCluster
from helpers import CLI, tracking_store
from mlflow.tracking import MlflowClient

from mixup_tune.records import tags

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SPEC = """\
name: {name}
trainable: {{dataset: digits, model: mlp, hidden_sizes: [32], epochs: {epochs}, batch_size: 256}}
search: {{alpha: [0, 1]}}
tune: {{checkpoint_interval_s: 0.5}}
resources: {{cpu: 1, gpu: 0}}
"""
STOPPED_EPOCHS = 1500  # ~20 s a trial: under way when the job is stopped


@pytest.fixture(scope="module")
def cluster() -> Iterator[LoopbackCluster]:
    """A head with two CPUs, its dashboard and job server on loopback."""
    cluster = LoopbackCluster()
    try:
        cluster.start_node("head", num_cpus=2, dashboard=True)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module", params=["server"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A job's working directory is temporary: its runs go to a tracking server. What database the server
    keeps them in is the server's business, not the job's: the record contract runs on each
    (test_sweep_integration, test_resume_integration), the job once."""
    with tracking_store(request.param, tmp_path_factory.mktemp(f"mlflow-{request.param}")) as uri:
        yield uri


def _ray_job(cluster: LoopbackCluster, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``ray job ...`` against the head's job server, with the cluster's token in the environment."""
    return subprocess.run(
        [RAY, "job", args[0], "--address", cluster.dashboard, *args[1:]],
        env=cluster.client_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _submit(cluster: LoopbackCluster, directory: Path, job_id: str, tracking_uri: str) -> None:
    submitted = _ray_job(
        cluster,
        "submit",
        "--no-wait",
        "--submission-id",
        job_id,
        "--working-dir",
        str(directory),
        "--",
        CLI,  # the driver runs on the head, in this environment
        "run",
        "spec.yaml",
        "--tracking-uri",
        tracking_uri,
        "--storage",
        str(directory / "ray"),
        "--quiet",
    )
    assert submitted.returncode == 0, submitted.stdout[-2000:] + submitted.stderr[-2000:]


# how `ray job status` words each ending (ray/dashboard/modules/job/cli.py); others: "Status for job ..."
_ENDINGS = {"succeeded": "SUCCEEDED", "was stopped": "STOPPED", "failed": "FAILED"}


def _status(cluster: LoopbackCluster, job_id: str) -> str:
    shown = _ray_job(cluster, "status", job_id)
    text = shown.stdout + shown.stderr
    found = re.search(r"Status for job '[^']+': (\w+)", text) or re.search(
        rf"Job '{re.escape(job_id)}' ({'|'.join(_ENDINGS)})", text
    )
    assert found, text[-2000:]
    return _ENDINGS.get(found.group(1), found.group(1))


def _wait_for_status(cluster: LoopbackCluster, job_id: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while (status := _status(cluster, job_id)) in ("PENDING", "RUNNING"):
        assert time.monotonic() < deadline, f"job {job_id} still {status}"
        time.sleep(1)
    return status


def _runs(client: MlflowClient, sweep: str, role: str) -> list:
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(
        experiments, f"tags.`{tags.SWEEP}` = '{sweep}' and tags.`{tags.ROLE}` = '{role}'"
    )


def _assert_complete(client: MlflowClient, sweep: str, epochs: int) -> None:
    """Two trials, each in exactly one FINISHED run with every epoch once; the parent closed, lease gone."""
    runs = _runs(client, sweep, "trial")
    assert len(runs) == 2 and len({r.data.tags[tags.TRIAL_ID] for r in runs}) == 2, "no run duplicated"
    assert {r.info.status for r in runs} == {"FINISHED"}, "none left RUNNING"
    for run in runs:
        steps = sorted(int(m.step) for m in client.get_metric_history(run.info.run_id, "test_error"))
        assert steps == list(range(1, epochs + 1)), "every epoch exactly once"
    (parent,) = _runs(client, sweep, "parent")
    assert parent.info.status == "FINISHED" and tags.LEASE not in parent.data.tags


def test_a_submitted_sweep_succeeds_and_records_its_runs(
    cluster: LoopbackCluster, server: str, tmp_path: Path
) -> None:
    name = f"job-{server.rsplit(':', 1)[1]}"
    (tmp_path / "spec.yaml").write_text(SPEC.format(name=name, epochs=30))
    _submit(cluster, tmp_path, f"{name}-1", server)
    assert _wait_for_status(cluster, f"{name}-1") == "SUCCEEDED", _ray_job(
        cluster, "logs", f"{name}-1"
    ).stdout
    logs = _ray_job(cluster, "logs", f"{name}-1").stdout
    assert re.search(r"completed\s+│ 2 ", logs), logs[-3000:]  # the driver's summary, in the job's log
    _assert_complete(MlflowClient(server), name, 30)
    # the job ran on the cluster: the trials' nodes are the head's
    nodes = {r.data.tags[tags.NODE_IDS] for r in _runs(MlflowClient(server), name, "trial")}
    assert nodes == {cluster.node_ids["head"]}


def test_a_stopped_job_is_resumed_from_a_client(
    cluster: LoopbackCluster, server: str, tmp_path: Path
) -> None:
    name = f"stopped-{server.rsplit(':', 1)[1]}"
    (tmp_path / "spec.yaml").write_text(SPEC.format(name=name, epochs=STOPPED_EPOCHS))
    client = MlflowClient(server)
    _submit(cluster, tmp_path, name, server)
    deadline = time.monotonic() + 240
    while True:  # both trials under way (Ray's storage has each result at once)
        results = list((tmp_path / "ray" / name).glob("*/result.json"))
        if len(results) == 2 and all(len(p.read_text().splitlines()) >= 30 for p in results):
            break
        assert time.monotonic() < deadline and _status(cluster, name) in ("PENDING", "RUNNING")
        time.sleep(0.5)
    stopped = _ray_job(cluster, "stop", name)
    assert stopped.returncode == 0, stopped.stdout[-2000:] + stopped.stderr[-2000:]
    assert _wait_for_status(cluster, name) == "STOPPED"
    left = _runs(client, name, "trial")
    # `ray job stop` sends the driver SIGTERM, which ends it there and then: its runs are left RUNNING
    assert len(left) == 2 and {r.info.status for r in left} == {"RUNNING"}
    partial = {r.info.run_id: len(client.get_metric_history(r.info.run_id, "test_error")) for r in left}
    assert all(0 < count < STOPPED_EPOCHS for count in partial.values())

    resumed = cluster.mixup_tune(
        tmp_path,
        "resume",
        name,
        "--address",
        cluster.address,
        "--tracking-uri",
        server,
        "--quiet",
        timeout=400,
    )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    _assert_complete(client, name, STOPPED_EPOCHS)
    assert sorted(r.info.run_id for r in _runs(client, name, "trial")) == sorted(partial), "the same runs"
    listed = _ray_job(cluster, "list")
    assert listed.returncode == 0 and json.dumps(name)[1:-1] in listed.stdout
