"""Chaos, as Ray tests itself: a sweep on a head and two worker nodes while trial workers, and now and
then a whole node, are SIGKILLed at random.

Ray's release tests kill workers for the whole run; this one kills for ``MIXUP_TUNE_CHAOS_S``
seconds (60 by default, to bound CI's time), then lets the sweep finish. The soak,
``python benchmarks/chaos_soak.py``, runs this same test with more trials and a longer chaos.

With ``max_failures: -1`` every trial must end FINISHED in exactly one MLflow run, every epoch logged
once, and its metrics equal to an undisturbed run's bit for bit: a trial killed mid-epoch resumes from
its last checkpoint, and its generators with it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import torch
from cluster import LoopbackCluster
from helpers import CLI, command_line, kill_session
from mlflow.tracking import MlflowClient

from mixup_tune.records import parse_param
from trainables import TrainConfig, train

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRIALS = int(os.environ.get("MIXUP_TUNE_CHAOS_TRIALS", "24"))  # a multiple of 3: three alphas, seeds
CHAOS_S = float(os.environ.get("MIXUP_TUNE_CHAOS_S", "60"))  # seconds of kills, from the first trial
PERIOD_S = 2.5  # mean seconds between kills
NODE_EVERY = 6  # every sixth kill takes a whole worker node, which is restarted at once
EPOCHS = 300  # ~6 ms each on one core: a trial of a few seconds in Ray, with its checkpoints
SPEC = """\
name: chaos
trainable: {{dataset: digits, model: mlp, hidden_sizes: [32], epochs: {epochs}, batch_size: 256}}
search: {{alpha: [0, 0.2, 1], seed: {seeds}}}
tune: {{checkpoint_interval_s: 0.3, max_failures: -1, keep_checkpoints: 4}}
resources: {{cpu: 1, gpu: 0}}
"""


class Chaos(threading.Thread):
    """SIGKILLs a random trial worker every ``PERIOD_S`` or so (seeded draws), and every ``NODE_EVERY``-th
    time all of a random worker node, which it starts again (a machine that dies and comes back)."""

    def __init__(self, cluster: LoopbackCluster, workers: list[str], seed: int, duration_s: float) -> None:
        super().__init__(daemon=True)
        self.cluster, self.workers, self.duration_s = cluster, workers, duration_s
        self.random = random.Random(seed)
        self.kills: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            started = time.monotonic()
            while not self.stopped.wait(self.random.uniform(0.5, 1.5) * PERIOD_S):
                if time.monotonic() - started > self.duration_s:
                    return
                self._kill_one(round(time.monotonic() - started, 1))
        except BaseException as error:  # reported by the test, not lost in the thread
            self.error = error

    def _kill_one(self, at_s: float) -> None:
        if (len(self.kills) + 1) % NODE_EVERY == 0:
            name = self.random.choice(self.workers)
            processes = self.cluster.kill_node(name)
            self.kills.append({"at_s": at_s, "kind": "node", "target": name, "processes": processes})
            self.cluster.start_node(name, num_cpus=1)
            return
        workers = self.cluster.trial_workers()
        # one that is training, when there is one: an idle actor's death costs the sweep less
        training = [pid for pid in workers if command_line(pid).startswith(b"ray::ImplicitFunc.train")]
        if not workers:
            return
        pid = self.random.choice(training or workers)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:  # it ended meanwhile
            return
        self.kills.append({"at_s": at_s, "kind": "trial worker", "target": pid, "training": bool(training)})


@pytest.fixture
def three_nodes() -> Iterator[LoopbackCluster]:
    cluster = LoopbackCluster()
    try:
        for name in ("head", "worker-1", "worker-2"):
            cluster.start_node(name, num_cpus=1)
        yield cluster
    finally:
        cluster.stop()
        assert not cluster.leftovers(), "every process the cluster started is gone"


def _undisturbed(options: dict[str, Any]) -> list[dict[str, Any]]:
    torch.set_num_threads(1)  # as in a Ray worker with one CPU
    return train(TrainConfig.from_dict(options)).history


def test_a_sweep_survives_random_kills_of_trial_workers_and_nodes(
    three_nodes: LoopbackCluster, tmp_path: Path
) -> None:
    cluster = three_nodes
    spec = SPEC.format(epochs=EPOCHS, seeds=list(range(TRIALS // 3)))
    (tmp_path / "spec.yaml").write_text(spec)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    args = ["run", "spec.yaml", "--address", cluster.address, "--tracking-uri", uri, "--quiet"]
    chaos = Chaos(cluster, ["worker-1", "worker-2"], seed=19, duration_s=CHAOS_S)
    started = time.monotonic()
    sweep = subprocess.Popen(
        [CLI, *args, "--storage", str(tmp_path / "ray")],
        cwd=tmp_path,
        env=cluster.client_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        while not cluster.trial_workers():  # kills start with the first trial
            assert sweep.poll() is None and time.monotonic() - started < 120, "no trial started"
            time.sleep(0.2)
        chaos.start()
        output, _ = sweep.communicate(timeout=CHAOS_S + 900)
    finally:
        chaos.stopped.set()
        chaos.join(timeout=120)
        kill_session(sweep.pid)
    wall_s = time.monotonic() - started
    assert chaos.error is None, f"the chaos loop itself failed: {chaos.error!r}"
    assert sweep.returncode == 0, output[-3000:]

    client = MlflowClient(uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, "tags.`mixup_tune.sweep` = 'chaos'")
    trials = [run for run in runs if run.data.tags["mixup_tune.role"] == "trial"]
    assert len(runs) == TRIALS + 1 and {run.info.status for run in runs} == {"FINISHED"}, (
        "one parent and exactly one run per trial, none left RUNNING"
    )
    options = [{key: parse_param(value) for key, value in run.data.params.items()} for run in trials]
    assert len({(o["alpha"], o["seed"]) for o in options}) == TRIALS, "no trial recorded twice"
    with ProcessPoolExecutor(2) as pool:
        references = list(pool.map(_undisturbed, options))
    for run, reference in zip(trials, references):
        for metric in ("test_error", "test_nll", "train_loss"):
            history = sorted(client.get_metric_history(run.info.run_id, metric), key=lambda m: m.step)
            assert [int(m.step) for m in history] == list(range(1, EPOCHS + 1)), "every epoch exactly once"
            assert [m.value for m in history] == [epoch[metric] for epoch in reference], (
                f"{metric} of alpha={run.data.params['alpha']} seed={run.data.params['seed']} equals an "
                f"undisturbed run's, bit for bit"
            )

    retried = sum(int(run.data.tags["mixup_tune.failures"]) for run in trials)
    nodes_killed = [kill for kill in chaos.kills if kill["kind"] == "node"]
    workers_killed = [kill for kill in chaos.kills if kill["kind"] == "trial worker"]
    report = {
        "trials": TRIALS,
        "chaos_s": CHAOS_S,
        "wall_s": round(wall_s, 1),
        "trial_workers_killed": len(workers_killed),
        "nodes_killed": len(nodes_killed),
        "trial_attempts_failed": retried,
        "trials_retried": sum(run.data.tags["mixup_tune.failures"] != "0" for run in trials),
        "trials_finished": len(trials),
        "runs_running": 0,
        "kills": chaos.kills,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "kills"}))
    if path := os.environ.get("MIXUP_TUNE_CHAOS_REPORT"):
        Path(path).write_text(json.dumps(report, indent=1))
    assert nodes_killed and len(workers_killed) >= 5, f"the chaos bit: {chaos.kills}"
    assert retried >= 1, "Ray saw the kills and retried the trials they hit"
