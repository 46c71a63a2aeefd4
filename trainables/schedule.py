"""The learning-rate schedule: torch's epoch schedulers, after an optional linear warm-up stepped every
iteration.

Goyal et al. (2017), whose recipe the paper's ImageNet runs follow, raise the
rate linearly *per iteration* over the first epochs (0.1 to 0.4 over 5 epochs
with minibatches of 1,024), not in steps at epoch boundaries. The warm-up
here is torch's ``LinearLR`` over ``warmup_epochs x iterations per epoch``
optimiser steps; the epoch schedule (``StepLR``, ``MultiStepLR``, ...) steps
once per epoch, its milestones counted from epoch 0. Both scale the rate
multiplicatively, so they compose: at the start of epoch e < warmup_epochs
the rate is lr x (start + (1 - start) x e / warmup_epochs), as a per-epoch
warm-up would give, and it rises smoothly in between.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.optim import lr_scheduler

from .config import TrainConfig


class Schedule:
    """``step_iteration()`` after every optimiser step, ``step()`` after every epoch; one ``state_dict`` for
    both."""

    def __init__(
        self, config: TrainConfig, optimizer: torch.optim.Optimizer, iterations_per_epoch: int
    ) -> None:
        schedule = config.schedule
        if schedule.name == "step":
            self.epochs: lr_scheduler.LRScheduler = lr_scheduler.StepLR(
                optimizer, schedule.step_size, schedule.gamma
            )
        elif schedule.name == "multistep":
            self.epochs = lr_scheduler.MultiStepLR(optimizer, list(schedule.milestones), schedule.gamma)
        elif schedule.name == "cosine":
            self.epochs = lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
        else:
            # constant, but with the same state_dict API
            self.epochs = lr_scheduler.MultiStepLR(optimizer, [], 1.0)
        self.warmup_iterations = schedule.warmup_epochs * max(iterations_per_epoch, 1)
        self.warmup = None
        if self.warmup_iterations:
            self.warmup = lr_scheduler.LinearLR(
                optimizer,
                start_factor=schedule.warmup_start,
                end_factor=1.0,
                total_iters=self.warmup_iterations,
            )

    def step_iteration(self) -> None:
        if self.warmup is not None and self.warmup.last_epoch < self.warmup_iterations:
            self.warmup.step()

    def step(self) -> None:
        self.epochs.step()

    def state_dict(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs.state_dict(),
            "warmup": None if self.warmup is None else self.warmup.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # written before the warm-up was stepped per iteration: an epoch scheduler's own state
        if "epochs" not in state:
            if "_schedulers" in state:
                raise ValueError(
                    "checkpoint has a per-epoch warm-up (written before warm-ups were stepped per "
                    "iteration); start the trial afresh"
                )
            state = {"epochs": state, "warmup": None}
        self.epochs.load_state_dict(state["epochs"])
        if self.warmup is not None and state["warmup"] is not None:
            self.warmup.load_state_dict(state["warmup"])


def iterations_per_epoch(examples: int, batch_size: int) -> int:
    """Minibatches per epoch: a trailing batch of one example is skipped (BatchNorm and pairing need two)."""
    return -(-examples // batch_size) - (1 if examples % batch_size == 1 else 0)


__all__ = ["Schedule", "iterations_per_epoch"]
