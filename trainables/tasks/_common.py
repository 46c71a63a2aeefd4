"""What every task shares: results, checkpoints, RNG state and the optimiser.

A checkpoint holds the config, the progress and every RNG of a trial, so that
passing it back as ``resume_state`` resumes the trial bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from ..config import TrainConfig, flatten

Metrics = dict[str, float]


class Stateful(Protocol):
    """What a checkpoint saves and restores: the mixing draws (``trainables.mixing.Draws``, the GAN's
    ``MixupSampler``)."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


# (the epoch's metrics, a function giving the checkpoint)
OnEpoch = Callable[[Metrics, Callable[[], dict[str, Any]]], None]
# What ``on_epoch`` gets beyond the epoch's history entry: the training pass's seconds (which vary from run
# to run, so the history, which resumes bit for bit, leaves them out) and, for a classifier, its examples.
# Beside them, once, ``mixing``: the display name of what the trial trained with, for the records.
TIMING = ("train_s", "train_examples")
REPORTED_ONLY = (*TIMING, "mixing")


def history_entry(reported: Metrics) -> Metrics:
    """An epoch as ``on_epoch`` reported it, less its timing and description: the trial's history entry."""
    return {key: value for key, value in reported.items() if key not in REPORTED_ONLY}


CHECKPOINT_FORMAT = 1
EVAL_BATCH = 1024  # examples per forward pass when measuring errors


@dataclass
class TrainResult:
    history: list[Metrics] = field(default_factory=list)
    diverged: bool = False

    @property
    def final(self) -> Metrics:
        return self.history[-1] if self.history else {}


def percent_wrong(wrong: Tensor) -> float:
    """The share of ``True`` in percent, as the paper reports errors; NaN for no examples."""
    return 100.0 * float(wrong.double().mean()) if wrong.numel() else math.nan


def build_optimizer(
    config: TrainConfig, model: nn.Module, fused: bool | None = None
) -> torch.optim.Optimizer:
    opt = config.optimizer
    if opt.name == "adam":
        return torch.optim.Adam(
            model.parameters(), lr=opt.lr, betas=opt.betas, weight_decay=opt.weight_decay, fused=fused
        )
    nesterov = opt.nesterov and opt.momentum > 0
    return torch.optim.SGD(
        model.parameters(),
        lr=opt.lr,
        momentum=opt.momentum,
        weight_decay=opt.weight_decay,
        nesterov=nesterov,
        fused=fused,
    )


def checkpoint(
    config: TrainConfig, epoch: int, history: list[Metrics], rng: dict[str, Any], **parts: Any
) -> dict[str, Any]:
    """A trial's full state: its config, progress and RNGs, and the ``state_dict()`` of each part (model,
    optimiser, ...)."""
    states = {name: part.state_dict() for name, part in parts.items()}
    return {
        "format": CHECKPOINT_FORMAT,
        "config": config.to_dict(),
        "epoch": epoch,
        "history": list(history),
        "rng": rng,
        **states,
    }


def check_checkpoint(state: dict[str, Any], config: TrainConfig) -> None:
    """Refuse a checkpoint of another format, or written by a trial computing something else than
    ``config``."""
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint format {state.get('format')} is not {CHECKPOINT_FORMAT}")
    # where and how fast a trial runs may change; what it computes may not
    ignore = {
        "device",
        "data_root",
        "loader_workers",
    }
    current = {k: v for k, v in flatten(config.to_dict()).items() if k not in ignore}
    # Compared option by option, nested ones too: an option added since the checkpoint was written
    # (mix_k, schedule.warmup_epochs, task, gan.*, ...) had its default
    # then; an option since removed is a mismatch.
    written = flatten(state["config"])
    defaults = flatten(TrainConfig().to_dict())
    saved = {k: written.get(k, defaults.get(k)) for k in current}  # a method's mix.* have no default
    if saved != current or set(written) - set(current) - ignore:
        raise ValueError("checkpoint was written by a trial with a different config")


def rng_state(
    device: torch.device, generators: dict[str, torch.Generator], mixup: Stateful
) -> dict[str, Any]:
    """Every RNG a trial draws from: torch's global one (initialisation, dropout), its own generators, mixup's
    and CUDA's."""
    rng: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        **{name: gen.get_state() for name, gen in generators.items()},
        "mixup": mixup.state_dict(),
    }
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    return rng


def restore_rng(
    rng: dict[str, Any], device: torch.device, generators: dict[str, torch.Generator], mixup: Stateful
) -> None:
    torch.set_rng_state(rng["torch"])
    for name, gen in generators.items():
        gen.set_state(rng[name])
    mixup.load_state_dict(rng["mixup"])
    if "cuda" in rng and device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"], device)
