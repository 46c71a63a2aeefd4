"""Stop a running sweep (Ctrl-C, or `kill -9` of the driver), then `mixup-tune resume` it: runs are reopened
(those a dead driver left RUNNING are reconciled), nothing is logged twice, and the final numbers equal an
uninterrupted run's, bit for bit."""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import cli_in_process, kill_session, start_sweep, storage_matrix, tracking_store
from mlflow.tracking import MlflowClient

from mixup_tune.ray_internals import repair_lost_checkpoints, saved_trials
from mixup_tune.records import parse_param
from mixup_tune.tracking import CHECKPOINT_FILE
from trainables import TrainConfig, train

pytestmark = pytest.mark.integration

# a few seconds a trial: both still running at the stop, even when one worker started seconds after the other
EPOCHS = 400
SPEC = f"""\
name: interrupted
trainable: {{dataset: digits, model: mlp, hidden_sizes: [32], epochs: {EPOCHS}, batch_size: 128}}
search: {{alpha: [0, 1], label_noise: [0.4]}}
tune: {{checkpoint_interval_s: 0.5}}
resources: {{cpu: 1, gpu: 0}}
"""


@functools.cache  # both stop modes run the same two trials
def _uninterrupted(params: tuple[tuple[str, str], ...]) -> list[dict[str, float]]:
    torch.set_num_threads(1)  # as in a Ray worker with one CPU
    return train(TrainConfig.from_dict({key: parse_param(value) for key, value in params})).history


def _trial_runs(client: MlflowClient) -> list:
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(experiments, "tags.`mixup_tune.role` = 'trial'")


# Every stop in every storage mode, the servers' in the slow tier; Ctrl-C on sqlite is the lost-checkpoint
# test below, which asserts all this one does and more.
STOPS = [
    pytest.param(stop, *mode.values, marks=mode.marks, id=f"{stop}-{mode.id}")
    for stop in ("ctrl-c", "kill-9")
    for mode in storage_matrix()
    if (stop, mode.id) != ("ctrl-c", "sqlite")
]


@pytest.mark.parametrize(("stop", "storage"), STOPS)
def test_stop_then_resume(tmp_path: Path, stop: str, storage: str) -> None:
    with tracking_store(storage, tmp_path) as uri:
        _stop_then_resume(tmp_path, stop, uri)


def test_a_checkpoint_deleted_before_rays_saved_state_stopped_naming_it_is_replaced(tmp_path: Path) -> None:
    """Ray deletes a trial's older checkpoints as it registers new ones and saves the state that stops naming
    them a moment later; a driver killed in between leaves a state whose checkpoint is gone (CI saw it once).
    Made on purpose here, after a Ctrl-C, whose saved state names exactly the checkpoints on disk: one trial
    loses the checkpoint the state names (it resumes from the one before), the other every checkpoint (it
    starts over). Both still finish with every epoch once, bit for bit."""
    with tracking_store("sqlite", tmp_path) as uri:
        _stop_then_resume(tmp_path, "ctrl-c", uri, lose_checkpoints=True)


def _lose_checkpoints(experiment_dir: Path) -> str:
    """Delete the checkpoint Ray's saved state names for the first trial, and every checkpoint of the second,
    after checking that a state naming only checkpoints that are there is left as it is. Returns the one the
    first should resume from."""
    state_files = sorted(experiment_dir.glob("experiment_state-*.json"))
    before = state_files[-1].read_bytes()
    assert repair_lost_checkpoints(str(experiment_dir), CHECKPOINT_FILE) == []
    assert state_files[-1].read_bytes() == before, "nothing lost: the state is not rewritten"
    first, second = sorted(saved_trials(str(experiment_dir)), key=lambda trial: trial.trial_id)
    kept_results = first.run_metadata.checkpoint_manager.best_checkpoint_results
    kept = [Path(result.checkpoint.path).name for result in kept_results]
    assert len(kept) == 2, "num_to_keep's two: the one the state names and the one before"
    assert kept[-1] == Path(first.checkpoint.path).name
    shutil.rmtree(_trial_dir(experiment_dir, first) / kept[-1])
    for checkpoint in _trial_dir(experiment_dir, second).glob("checkpoint_*"):
        shutil.rmtree(checkpoint)
    return kept[0]


def _trial_dir(experiment_dir: Path, trial: Any) -> Path:
    return experiment_dir / trial.storage.trial_dir_name


def _stop_then_resume(tmp_path: Path, stop: str, uri: str, lose_checkpoints: bool = False) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC)
    client = MlflowClient(uri)
    args = ["--tracking-uri", uri, "--storage", str(tmp_path / "ray"), "--quiet"]
    run = start_sweep(tmp_path, "spec.yaml", args)
    deadline = time.monotonic() + 240
    # wait until both trials are well under way (Ray's storage has each result at once)
    while time.monotonic() < deadline:
        steps = [
            len(path.read_text().splitlines())
            for path in (tmp_path / "ray" / "interrupted").glob("*/result.json")
        ]
        if len(steps) == 2 and min(steps) >= (100 if lose_checkpoints else 30):  # two checkpoints kept, if so
            break
        time.sleep(0.2)
    if stop == "ctrl-c":
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=120)
        assert run.returncode == 130, output[-3000:]
        # one resume hint, ours: Tune's own "Resume experiment with: Tuner.restore(...)" is dropped
        hints = [
            line.strip()
            for line in output.splitlines()
            if "Continue with" in line or "Resume experiment" in line or "Tuner.restore" in line
        ]
        assert hints == ["Interrupted. Continue with: mixup-tune resume interrupted"], output[-3000:]
        interrupted = _trial_runs(client)
        assert {r.info.status for r in interrupted} == {"KILLED"}
    else:
        os.kill(run.pid, signal.SIGKILL)  # no handler runs: nothing is closed
        run.communicate(timeout=60)
        kill_session(run.pid)  # the local Ray it started (Ray leaves its agents behind)
        interrupted = _trial_runs(client)
        assert {r.info.status for r in interrupted} == {"RUNNING"}, "left RUNNING by the dead driver"
    assert all(len(client.get_metric_history(r.info.run_id, "test_error")) < EPOCHS for r in interrupted)
    resumes_from = _lose_checkpoints(tmp_path / "ray" / "interrupted") if lose_checkpoints else ""

    resumed = cli_in_process("resume", "interrupted", *args, cwd=tmp_path)  # on this module's Ray
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    if stop == "kill-9":
        assert re.search(r"runs left RUNNING, reconciled\s+│ 2 ", resumed.stdout), resumed.stdout
        # the dead driver's lease is seen to be this machine's and its process gone: taken over, no wait
        assert "is gone; taking over its lease" in resumed.stderr, resumed.stderr[-3000:]
    if lose_checkpoints:
        assert f"it resumes from {resumes_from} (epoch " in resumed.stderr, resumed.stderr[-3000:]
        assert "it starts over (none left)" in resumed.stderr
    final = _trial_runs(client)
    assert sorted(r.info.run_id for r in final) == sorted(r.info.run_id for r in interrupted)
    torch.set_num_threads(1)  # as in a Ray worker with one CPU
    for child in final:
        assert child.info.status == "FINISHED"
        history = sorted(client.get_metric_history(child.info.run_id, "test_error"), key=lambda m: m.step)
        assert [int(m.step) for m in history] == list(range(1, EPOCHS + 1)), "every epoch exactly once"
        uninterrupted = _uninterrupted(tuple(sorted(child.data.params.items())))
        assert [m.value for m in history] == [epoch["test_error"] for epoch in uninterrupted]
        assert child.data.metrics["train_error_corrupted"] == uninterrupted[-1]["train_error_corrupted"]
