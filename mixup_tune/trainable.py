"""The bridge from a Ray Tune trial to ``trainables.train``: config in, reports and checkpoints out."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import ray
from ray import tune

from trainables import TrainConfig

CHECKPOINT_FILE = "trial.pt"


def mixup_trial(config: dict[str, Any], checkpoint_interval_s: float = 30.0) -> None:
    """Ray function trainable. Resumes from Ray's checkpoint when there is one (after a node loss or restore).

    Checkpoints are taken by wall time, not every epoch: on small models a
    checkpoint costs more than an epoch, and Ray snapshots its experiment
    state with each one.

    Each result also carries ``compute_s``: the seconds this call has spent in
    ``train`` (data, model, epochs), less the time spent reporting and
    checkpointing. Ray's ``time_total_s`` counts those waits too, and the
    worker's imports, so the two side by side show what Tune costs a trial
    (``benchmarks/orchestration.py`` sums it against a sweep's wall time).
    """
    # Imported here, in the trial's worker: the driver only names this function.
    import torch

    from trainables import train

    train_config = TrainConfig.from_dict(config)
    checkpoint = tune.get_checkpoint()
    resume_state = None if checkpoint is None else load_state(checkpoint)

    # logged as a tag: which node ran (or resumed) the trial
    node_id = ray.get_runtime_context().get_node_id()
    started = last_checkpoint = time.perf_counter()
    reporting_s = 0.0  # time in tune.report and checkpointing: Tune's share of the trial, not compute

    def report(metrics: dict[str, Any], state: Any) -> None:
        nonlocal last_checkpoint, reporting_s
        reached = time.perf_counter()
        metrics = {**metrics, "node_id": node_id, "compute_s": reached - started - reporting_s}
        final = int(metrics["epoch"]) == train_config.epochs or bool(metrics["diverged"])
        if not final and reached - last_checkpoint < checkpoint_interval_s:
            tune.report(metrics)
        else:
            with tempfile.TemporaryDirectory() as directory:
                torch.save(state(), Path(directory) / CHECKPOINT_FILE)
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))
            last_checkpoint = time.perf_counter()
        reporting_s += time.perf_counter() - reached

    train(train_config, on_epoch=report, resume_state=resume_state)


def load_state(checkpoint: tune.Checkpoint, map_location: str | None = None) -> Any:
    """A trial's full state from one of its checkpoints: what ``train`` resumes from, and what holds its final
    weights."""
    import torch

    with checkpoint.as_directory() as directory:
        return torch.load(Path(directory) / CHECKPOINT_FILE, map_location=map_location, weights_only=False)
