"""The nested option sections of a trial: optimiser, learning-rate schedule and GAN; the built-in names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ._checks import FORBID_EXTRA, check_own_types, finite, normalise_types, require


@dataclass
class OptimizerConfig:
    __pydantic_config__ = FORBID_EXTRA

    name: Literal["sgd", "adam"] = "sgd"
    lr: float = 0.1  # initial learning rate
    momentum: float = 0.9  # SGD only
    weight_decay: float = 1e-4  # L2 penalty, added to the gradient
    nesterov: bool = False  # SGD only
    betas: tuple[float, float] = (0.9, 0.999)  # Adam only

    def __post_init__(self) -> None:
        check_own_types(self)
        normalise_types(self)
        require(
            self.name in ("sgd", "adam"), "optimizer.name", f"must be one of sgd, adam; got {self.name!r}"
        )
        require(
            finite(self.lr) and self.lr > 0, "optimizer.lr", f"must be a finite number > 0; got {self.lr}"
        )
        require(
            finite(self.momentum) and 0 <= self.momentum < 1,
            "optimizer.momentum",
            f"must be in [0, 1); got {self.momentum}",
        )
        require(
            finite(self.weight_decay) and self.weight_decay >= 0,
            "optimizer.weight_decay",
            f"must be >= 0; got {self.weight_decay}",
        )
        require(
            all(finite(b) and 0 <= b < 1 for b in self.betas),
            "optimizer.betas",
            f"must be two numbers in [0, 1); got {self.betas}",
        )


@dataclass
class ScheduleConfig:
    __pydantic_config__ = FORBID_EXTRA

    name: Literal["constant", "step", "multistep", "cosine"] = "constant"
    step_size: int = 30  # epochs between decays, for "step"
    milestones: tuple[int, ...] = ()  # epochs at which to decay, for "multistep"
    gamma: float = 0.1  # decay factor, for "step" and "multistep"
    warmup_epochs: int = 0  # linear warm-up before the schedule (Goyal et al.: 5 epochs, lr 0.1 -> 0.4)
    warmup_start: float = 0.25  # the first warm-up epoch's lr, as a fraction of optimizer.lr (0.1 of 0.4)

    def __post_init__(self) -> None:
        check_own_types(self)
        normalise_types(self)
        allowed = ("constant", "step", "multistep", "cosine")
        require(
            self.name in allowed, "schedule.name", f"must be one of {', '.join(allowed)}; got {self.name!r}"
        )
        require(self.step_size >= 1, "schedule.step_size", f"must be >= 1 epoch; got {self.step_size}")
        require(
            all(m >= 1 for m in self.milestones),
            "schedule.milestones",
            f"must be epochs >= 1; got {self.milestones}",
        )
        require(list(self.milestones) == sorted(self.milestones), "schedule.milestones", "must be increasing")
        require(
            finite(self.gamma) and 0 < self.gamma <= 1,
            "schedule.gamma",
            f"must be in (0, 1]; got {self.gamma}",
        )
        require(self.warmup_epochs >= 0, "schedule.warmup_epochs", f"must be >= 0; got {self.warmup_epochs}")
        require(
            finite(self.warmup_start) and 0 < self.warmup_start <= 1,
            "schedule.warmup_start",
            f"must be in (0, 1]; got {self.warmup_start}",
        )


@dataclass
class GanConfig:
    """Section 3.7's toy GAN: used when ``task`` is ``gan``. Sizes in examples, times in generator
    iterations."""

    __pydantic_config__ = FORBID_EXTRA

    target: Literal["ring", "grid", "spiral", "ring_unit", "grid_unit"] = (
        # 8 Gaussians on a circle, 25 on a 5x5 grid, a noisy spiral; the released code's ring and grid
        # (trainables.tasks.gan_targets)
        "ring"
    )
    mixing: Literal["paper", "released_code"] = (
        # the paper's formula (lambda ~ Beta(alpha, alpha)), or the authors' released code (per-point weights
        # ~ Uniform(0, alpha) between two shuffled real-and-fake batches; trainables.tasks.gan)
        "paper"
    )
    iterations_per_epoch: int = (
        500  # generator iterations per report; the paper's 20,000 iterations are epochs=40
    )
    discriminator_steps: int = 5  # discriminator updates before every generator update (the paper: 5)
    generator_loss: Literal["minimax", "non_saturating"] = (
        "minimax"  # ascend d's loss (the paper's formula), or descend it with the targets set to "real"
    )
    noise_dim: int = 2  # the generator's input: standard Gaussian noise (the paper: 2-D)
    # ReLU hidden layers (the paper: 3 x 512 for both networks)
    generator_widths: tuple[int, ...] = (
        512,
        512,
        512,
    )
    discriminator_widths: tuple[int, ...] = (512, 512, 512)
    snapshots: tuple[int, ...] = (10, 100, 1000, 10000, 20000)  # iterations whose samples are kept (Figure 5)
    snapshot_size: int = 1000  # generated points per snapshot
    eval_samples: int = 2500  # generated points per evaluation (modes covered, high quality, distance)

    def __post_init__(self) -> None:
        check_own_types(self)
        normalise_types(self)
        targets = ("ring", "grid", "spiral", "ring_unit", "grid_unit")
        require(
            self.target in targets, "gan.target", f"must be one of {', '.join(targets)}; got {self.target!r}"
        )
        require(
            self.mixing in ("paper", "released_code"),
            "gan.mixing",
            f"must be paper or released_code; got {self.mixing!r}",
        )
        require(
            self.iterations_per_epoch >= 1,
            "gan.iterations_per_epoch",
            f"must be >= 1; got {self.iterations_per_epoch}",
        )
        require(
            self.discriminator_steps >= 1,
            "gan.discriminator_steps",
            f"must be >= 1; got {self.discriminator_steps}",
        )
        require(
            self.generator_loss in ("minimax", "non_saturating"),
            "gan.generator_loss",
            f"must be minimax or non_saturating; got {self.generator_loss!r}",
        )
        require(self.noise_dim >= 1, "gan.noise_dim", f"must be >= 1; got {self.noise_dim}")
        for name in ("generator_widths", "discriminator_widths"):
            require(
                all(w >= 1 for w in getattr(self, name)),
                f"gan.{name}",
                f"must be positive widths; got {getattr(self, name)}",
            )
        require(
            all(i >= 1 for i in self.snapshots),
            "gan.snapshots",
            f"must be iterations >= 1; got {self.snapshots}",
        )
        require(self.snapshot_size >= 1, "gan.snapshot_size", f"must be >= 1; got {self.snapshot_size}")
        require(self.eval_samples >= 100, "gan.eval_samples", f"must be >= 100; got {self.eval_samples}")


# The options a GAN trial uses; the others (data, classifier, label noise,
# ...) mean nothing to it and keep their defaults.
GAN_OPTIONS = (
    "task",
    "gan",
    "epochs",
    "batch_size",
    "optimizer",
    "alpha",
    "lambda_per",
    "seed",
    "device",
    "precision",
    "deterministic",
)
