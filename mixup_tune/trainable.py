"""The bridge from a Ray Tune trial to ``trainables.train``: config in, reports and checkpoints out."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch
from ray import tune

from trainables import TrainConfig, train

CHECKPOINT_FILE = "trial.pt"


def tune_trainable(config: dict[str, Any], checkpoint_every: int = 1) -> None:
    """Ray function trainable. Resumes from Ray's checkpoint when there is one (after a node loss or restore)."""
    train_config = TrainConfig.from_dict(config)
    resume_state = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as directory:
            resume_state = torch.load(Path(directory) / CHECKPOINT_FILE, weights_only=False)

    def report(metrics: dict[str, float], state: Any) -> None:
        epoch = int(metrics["epoch"])
        if epoch % checkpoint_every and epoch != train_config.epochs and not metrics["diverged"]:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory() as directory:
            torch.save(state(), Path(directory) / CHECKPOINT_FILE)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))

    train(train_config, on_epoch=report, resume_state=resume_state)
