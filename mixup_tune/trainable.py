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
    """
    # Imported here, in the trial's worker: the driver only names this function.
    import torch

    from trainables import train

    train_config = TrainConfig.from_dict(config)
    resume_state = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as directory:
            resume_state = torch.load(Path(directory) / CHECKPOINT_FILE, weights_only=False)

    last_checkpoint = time.monotonic()
    node_id = ray.get_runtime_context().get_node_id()  # logged as a tag: which node ran (or resumed) the trial

    def report(metrics: dict[str, Any], state: Any) -> None:
        nonlocal last_checkpoint
        metrics = {**metrics, "node_id": node_id}
        final = int(metrics["epoch"]) == train_config.epochs or bool(metrics["diverged"])
        if not final and time.monotonic() - last_checkpoint < checkpoint_interval_s:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory() as directory:
            torch.save(state(), Path(directory) / CHECKPOINT_FILE)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))
        last_checkpoint = time.monotonic()

    train(train_config, on_epoch=report, resume_state=resume_state)
