"""Sweeps on a real two-node Ray cluster (`ray start`, token auth on), and the loss of a worker node
mid-sweep."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from cluster import LoopbackCluster
from helpers import CLI
from mlflow.tracking import MlflowClient

from mixup_tune.records import parse_param
from trainables import TrainConfig, train

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SPEC = """\
name: {name}
trainable: {{dataset: digits, model: mlp, hidden_sizes: [32], epochs: {epochs}, batch_size: 256}}
search: {{alpha: {alphas}}}
tune: {{checkpoint_interval_s: 0.5, max_failures: 3}}
resources: {{cpu: 1, gpu: 0}}
"""


def _two_nodes() -> Iterator[LoopbackCluster]:
    """A head and a worker node with one CPU each: two concurrent trials must use both."""
    cluster = LoopbackCluster()
    try:
        cluster.start_node("head", num_cpus=1)
        cluster.start_node("worker", num_cpus=1)
        yield cluster
    finally:
        cluster.stop()


# for the tests that leave it whole
shared_cluster = pytest.fixture(scope="module", name="cluster")(_two_nodes)
own_cluster = pytest.fixture(name="own_cluster")(_two_nodes)  # for the test that kills a node


def _run_args(cluster: LoopbackCluster, directory: Path) -> list[str]:
    """`run spec.yaml` on the cluster, into a sqlite store and Ray storage in ``directory``."""
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    return ["run", "spec.yaml", "--address", cluster.address, "--tracking-uri", uri] + [
        "--storage",
        str(directory / "ray"),
    ]


def _trial_runs(client: MlflowClient, sweep: str) -> list:
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(
        experiments, f"tags.`mixup_tune.sweep` = '{sweep}' and tags.`mixup_tune.role` = 'trial'"
    )


def test_a_sweep_runs_on_both_nodes_and_the_token_stays_out_of_the_records(
    cluster: LoopbackCluster, tmp_path: Path
) -> None:
    # The sqlite store: tests/integration/test_sweep_integration.py, test_tracking_auth.py and
    # test_tracking_outage.py
    # run sweeps against an `mlflow server` on a loopback port.
    (tmp_path / "spec.yaml").write_text(SPEC.format(name="two-nodes", epochs=20, alphas="[0, 0.5, 1, 2]"))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = cluster.mixup_tune(tmp_path, *_run_args(cluster, tmp_path), timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    client = MlflowClient(uri)
    trials = _trial_runs(client, "two-nodes")
    assert len(trials) == 4 and {t.info.status for t in trials} == {"FINISHED"}
    used = {node for t in trials for node in t.data.tags["mixup_tune.node_ids"].split(",")}
    assert used == set(cluster.alive_nodes()), "trials ran on both nodes, and only on this cluster's nodes"

    # The token reaches Ray through the environment only: not the output, MLflow, or any file written.
    records = [result.stdout, result.stderr]
    [parent] = client.search_runs([trials[0].info.experiment_id], "tags.`mixup_tune.role` = 'parent'")
    for run in [parent, *trials]:
        records += [*run.data.params.values(), *run.data.tags.values()]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]  # the MLflow store and artifacts, Ray's storage
    assert any(p.name == "spec.yaml" for p in files) and any(p.name == "result.json" for p in files)
    assert not [text for text in records if cluster.token in text]
    assert not [p for p in files if cluster.token.encode() in p.read_bytes()]


def test_a_client_without_the_token_gets_one_clear_line(cluster: LoopbackCluster, tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC.format(name="no-token", epochs=2, alphas="[0]"))
    env = {**cluster.client_env, "RAY_AUTH_TOKEN_PATH": str(tmp_path / "missing-token")}
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = subprocess.run(
        [CLI, "run", "spec.yaml", "--address", cluster.address, "--tracking-uri", uri],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert (
        result.stderr.count("\n") == 1 and f"cannot connect to Ray at {cluster.address}" in result.stderr
    ), result.stderr
    assert not (tmp_path / "mlflow.db").exists(), "nothing written"


@pytest.mark.parametrize(
    ("resources", "asked"), [("{cpu: 2, gpu: 0}", "2 CPU"), ("{cpu: 1, gpu: 0.5}", "1 CPU and 0.5 GPU")]
)
def test_a_trial_no_node_can_hold_on_a_cluster_that_cannot_grow_is_refused(
    cluster: LoopbackCluster, tmp_path: Path, resources: str, asked: str
) -> None:
    # two nodes of one CPU each: two CPUs in all, but never on one node (a trial never spans nodes)
    spec = SPEC.format(name="too-big", epochs=2, alphas="[0]").replace("{cpu: 1, gpu: 0}", resources)
    (tmp_path / "spec.yaml").write_text(spec)
    result = cluster.mixup_tune(tmp_path, *_run_args(cluster, tmp_path))
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"each trial asks for {asked}, but no node of the cluster has that (at most CPU 1, GPU 0)" in (
        result.stderr
    )
    assert "does not autoscale" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.yaml"], "no MLflow store, no Ray storage"


def test_losing_a_worker_node_mid_sweep_loses_and_duplicates_nothing(
    own_cluster: LoopbackCluster, tmp_path: Path
) -> None:
    cluster = own_cluster
    epochs = 300
    (tmp_path / "spec.yaml").write_text(SPEC.format(name="node-loss", epochs=epochs, alphas="[0, 1]"))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    args = [
        "run",
        "spec.yaml",
        "--address",
        cluster.address,
        "--tracking-uri",
        uri,
        "--storage",
        str(tmp_path / "ray"),
        "--quiet",
    ]
    sweep = subprocess.Popen(
        [CLI, *args],
        cwd=tmp_path,
        env=cluster.client_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        head, worker = cluster.node_ids["head"], cluster.node_ids["worker"]
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # until the worker node's trial is well under way
            runs = _trial_runs(client, "node-loss") if (tmp_path / "mlflow.db").exists() else []
            on_worker = [r for r in runs if r.data.tags.get("mixup_tune.node_ids") == worker]
            if on_worker and len(client.get_metric_history(on_worker[0].info.run_id, "test_error")) >= 20:
                break
            time.sleep(0.5)
        else:
            pytest.fail("no trial reached 20 epochs on the worker node")
        moved = on_worker[0].info.run_id
        assert cluster.kill_node("worker") >= 3, "the raylet, its agents and the trial's worker process"
        output, _ = sweep.communicate(timeout=400)
    finally:
        sweep.kill()
    assert sweep.returncode == 0, output[-3000:]

    runs = _trial_runs(client, "node-loss")
    assert len(runs) == 2, "exactly one MLflow run per trial"
    torch.set_num_threads(1)  # as in a Ray worker with one CPU
    for run in runs:
        assert run.info.status == "FINISHED", "none left RUNNING"
        history = sorted(client.get_metric_history(run.info.run_id, "test_error"), key=lambda m: m.step)
        assert [int(m.step) for m in history] == list(range(1, epochs + 1)), "every epoch exactly once"
        if run.info.run_id == moved:
            assert run.data.tags["mixup_tune.node_ids"] == f"{worker},{head}", "resumed on the surviving node"
            assert run.data.tags["mixup_tune.failures"] == "1"
            options = {key: parse_param(value) for key, value in run.data.params.items()}
            uninterrupted = train(TrainConfig.from_dict(options)).history
            assert [m.value for m in history] == [epoch["test_error"] for epoch in uninterrupted], (
                "resumed from its checkpoint, exactly"
            )
        else:
            assert (
                run.data.tags["mixup_tune.node_ids"] == head and run.data.tags["mixup_tune.failures"] == "0"
            )
