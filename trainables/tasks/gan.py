"""Section 3.7: a GAN on a toy 2-D distribution, with the discriminator trained by mixup or not.

ERM GAN (the paper's minimax form, with l the binary cross-entropy):

    discriminator:  min_d  l(d(x), 1) + l(d(g(z)), 0)
    generator:      max_g  l(d(g(z)), 0)

mixup GAN, lam ~ Beta(alpha, alpha):

    discriminator:  min_d  l(d(lam x + (1 - lam) g(z)), lam)
    generator:      max_g  l(d(lam x + (1 - lam) g(z)), lam)

With ``gan.generator_loss: non_saturating`` the generator instead descends the
loss with every target "real": min_g l(d(g(z)), 1), or l(d(lam x + (1 - lam) g(z)), 1).

``gan.mixing: released_code`` trains as the authors' released code does instead
(hongyi-zhang/mixup, ``gan/example_gan.py``), which is not the formula above:

- a *labelled batch* is ``batch_size`` real and ``batch_size`` generated points
  together, labelled 1 and 0, shuffled;
- the discriminator learns on two labelled batches mixed point by point,
  w b1 + (1 - w) b2 with targets w l1 + (1 - w) l2, where w ~ Uniform(0, alpha)
  per point (not Beta(alpha, alpha)); at alpha = 0, on one unmixed batch;
- the generator descends minus the discriminator's loss on an unmixed labelled
  batch (its real half adds a constant); ``non_saturating`` descends l(d(g(z)), 1).

Its targets are ``ring_unit`` and ``grid_unit`` (``trainables.tasks.gan_targets``).

Both networks are ReLU MLPs (the paper: 3 x 512), trained with the trial's
optimiser (the paper: Adam's defaults), ``gan.discriminator_steps`` updates of
the discriminator before each of the generator, batches of ``batch_size``.

Like ``train``, ``train_gan`` reports through ``on_epoch(metrics, checkpoint)``
once per ``gan.iterations_per_epoch`` generator iterations. The metrics are
those of ``gan_targets.SampleQuality`` and the mean losses; ``snapshots`` maps
each iteration of ``gan.snapshots`` reached in that epoch to its generated
points (a list of [x, y]), for Figure 5. Every draw (data, noise, lambda) has
its own seeded generator, checkpointed with the networks and optimisers.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import TrainConfig
from ..device import autocast_dtype, configure_determinism, resolve_device
from ..mixup import MixupSampler
from ..models import MLP
from . import _common as common
from ._common import Metrics, OnEpoch, TrainResult
from .gan_targets import TARGETS, SampleQuality

# The generator of the evaluation noise is reseeded at every evaluation from the trial seed and the iteration,
# so that measuring never moves the training streams, and a resumed trial measures what the original did.
_EVAL_STREAM = 7


class GanTrial:
    """The two networks, their optimisers and every RNG of one GAN trial."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        gan = config.gan
        self.device = resolve_device(config.device)
        configure_determinism(config.deterministic, self.device)
        self.target = TARGETS[gan.target]
        self.quality = SampleQuality(self.target, self.device)
        torch.manual_seed(config.seed)  # initialisation
        data_seed, noise_seed, mixup_seed = np.random.SeedSequence(config.seed).generate_state(3)
        self.data_gen = torch.Generator(self.device).manual_seed(int(data_seed))
        self.noise_gen = torch.Generator(self.device).manual_seed(int(noise_seed))
        self.mixup = MixupSampler(config.alpha, config.lambda_per, int(mixup_seed))
        self.generator = MLP(gan.noise_dim, gan.generator_widths, 2).to(self.device)
        self.discriminator = MLP(2, gan.discriminator_widths, 1).to(self.device)
        # Fused updates: a toy GAN's steps are many and small, and the fused update makes an iteration a
        # quarter faster on a CPU.
        self.g_optimizer = common.build_optimizer(config, self.generator, fused=True)
        self.d_optimizer = common.build_optimizer(config, self.discriminator, fused=True)
        self.autocast_dtype = autocast_dtype(config.precision, self.device)
        self.iteration = 0  # generator updates so far
        self.epoch = 0
        self.history: list[Metrics] = []

    def autocast(self) -> torch.autocast:
        return torch.autocast(
            self.device.type,
            dtype=self.autocast_dtype or torch.float32,
            enabled=self.autocast_dtype is not None,
        )

    def real(self) -> Tensor:
        return self.target.sample(self.config.batch_size, self.data_gen)

    def noise(self, count: int, generator: torch.Generator | None = None) -> Tensor:
        return torch.randn(
            count, self.config.gan.noise_dim, generator=generator or self.noise_gen, device=self.device
        )

    def critic_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """The discriminator's loss: ERM's two terms, or mixup's one on lam x + (1 - lam) g(z) with target
        lam."""
        if not self.mixup.mixes:
            # one forward pass for both
            logits = self.discriminator(torch.cat([real, fake])).float().squeeze(1)
            real_logits, fake_logits = logits[: len(real)], logits[len(real) :]
            return F.binary_cross_entropy_with_logits(
                real_logits, torch.ones_like(real_logits)
            ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
        # (B, 1): one lambda per batch, or per sample
        lam = self.mixup.weights(len(real))[:, :1].to(self.device)
        return F.binary_cross_entropy_with_logits(
            self.discriminator(torch.lerp(fake, real, lam)).float(), lam
        )

    def generator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        """What the generator descends: minus the discriminator's loss (minimax), or that loss with every
        target
        "real" (non-saturating: l(d(g(z)), 1), and l(d(lam x + (1 - lam) g(z)), 1) with mixup)."""
        if self.config.gan.generator_loss == "minimax":
            return -self.critic_loss(real, fake)
        if self.mixup.mixes:
            lam = self.mixup.weights(len(real))[:, :1].to(self.device)
            fake = torch.lerp(fake, real, lam)
        logits = self.discriminator(fake).float()
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))

    def labelled_batch(self) -> tuple[Tensor, Tensor]:
        """The released code's batch: real and generated points, labelled 1 and 0, shuffled (gradients reach
        the generator)."""
        real = self.real()
        with self.autocast():
            fake = self.generator(self.noise(len(real))).float()
        labels = torch.cat(
            [torch.ones(len(real), 1, device=self.device), torch.zeros(len(fake), 1, device=self.device)]
        )
        order = self.mixup.permutation(2 * len(real)).to(self.device)
        return torch.cat([real, fake])[order], labels[order]

    @torch.no_grad()  # the discriminator's step: no generator gradients needed
    def critic_batch(self) -> tuple[Tensor, Tensor]:
        """The released code's discriminator batch: w b1 + (1 - w) b2 and w l1 + (1 - w) l2, w ~ Uniform(0,
        alpha) per point."""
        points, labels = self.labelled_batch()
        if not self.mixup.mixes:
            return points, labels
        other, other_labels = self.labelled_batch()
        drawn = self.mixup.lambda_rng.uniform(0.0, self.config.alpha, size=(len(points), 1))
        weight = torch.from_numpy(drawn.astype(np.float32)).to(self.device)
        return torch.lerp(other, points, weight), torch.lerp(other_labels, labels, weight)

    def discriminator_loss(self) -> Tensor:
        """One discriminator batch's loss, drawing its points: the paper's formula, or the released code's
        batches."""
        if self.config.gan.mixing == "released_code":
            points, labels = self.critic_batch()
            return F.binary_cross_entropy_with_logits(self.discriminator(points).float(), labels)
        real = self.real()
        with torch.no_grad():
            fake = self.generator(self.noise(len(real))).float()
        return self.critic_loss(real, fake)

    def generator_step_loss(self) -> Tensor:
        """What the generator's step descends, drawing its points (``generator_loss`` for the paper's
        formula)."""
        if self.config.gan.mixing != "released_code":
            real = self.real()
            return self.generator_loss(real, self.generator(self.noise(len(real))).float())
        # minus the discriminator's loss on an unmixed labelled batch
        if self.config.gan.generator_loss == "minimax":
            points, labels = self.labelled_batch()
            return -F.binary_cross_entropy_with_logits(self.discriminator(points).float(), labels)
        logits = self.discriminator(self.generator(self.noise(self.config.batch_size)).float()).float()
        return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))

    def step(self) -> tuple[Tensor, Tensor]:
        """One generator iteration, after ``discriminator_steps`` discriminator updates; the last losses of
        each."""
        for _ in range(self.config.gan.discriminator_steps):
            with self.autocast():
                d_loss = self.discriminator_loss()
            self.d_optimizer.zero_grad(set_to_none=True)
            d_loss.backward()
            self.d_optimizer.step()
        self.discriminator.requires_grad_(False)  # the generator's step needs gradients through d, not for it
        with self.autocast():
            g_loss = self.generator_step_loss()
        self.g_optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        self.g_optimizer.step()
        self.discriminator.requires_grad_(True)
        self.iteration += 1
        return d_loss.detach(), g_loss.detach()

    @torch.inference_mode()
    def generate(self, count: int) -> Tensor:
        """``count`` generated points from noise reseeded for this iteration: training's streams do not
        move."""
        generator = torch.Generator(self.device).manual_seed(
            int(np.random.SeedSequence([self.config.seed, _EVAL_STREAM, self.iteration]).generate_state(1)[0])
        )
        # fp32 whatever training's precision: these points are measured
        return self.generator(self.noise(count, generator))

    def train_epoch(self) -> Metrics:
        """``iterations_per_epoch`` generator iterations; the mean losses, the samples' quality and due
        snapshots."""
        gan = self.config.gan
        d_sum = torch.zeros((), device=self.device)
        g_sum = torch.zeros((), device=self.device)
        snapshots: dict[str, list[list[float]]] = {}
        for _ in range(gan.iterations_per_epoch):
            d_loss, g_loss = self.step()
            d_sum += d_loss
            g_sum += g_loss
            if self.iteration in gan.snapshots:
                snapshots[str(self.iteration)] = self.generate(gan.snapshot_size).cpu().tolist()
        metrics: Metrics = {
            "iteration": float(self.iteration),
            "d_loss": float(d_sum) / gan.iterations_per_epoch,
            "g_loss": float(g_sum) / gan.iterations_per_epoch,
        }
        metrics.update(self.quality(self.generate(gan.eval_samples)))
        if snapshots:
            metrics["snapshots"] = snapshots  # type: ignore[assignment]  # points, not a number: an artifact for the tracker
        return metrics

    PARTS = ("generator", "discriminator", "g_optimizer", "d_optimizer")

    def generators(self) -> dict[str, torch.Generator]:
        return {"data": self.data_gen, "noise": self.noise_gen}

    def state_dict(self) -> dict[str, Any]:
        rng = common.rng_state(self.device, self.generators(), self.mixup)
        return {
            **common.checkpoint(
                self.config,
                self.epoch,
                self.history,
                rng,
                **{name: getattr(self, name) for name in self.PARTS},
            ),
            "iteration": self.iteration,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        common.check_checkpoint(state, self.config)
        self.epoch, self.iteration, self.history = state["epoch"], state["iteration"], list(state["history"])
        for name in self.PARTS:
            getattr(self, name).load_state_dict(state[name])
        common.restore_rng(
            state["rng"], self.device, {"data": self.data_gen, "noise": self.noise_gen}, self.mixup
        )


def train_gan(
    config: TrainConfig, on_epoch: OnEpoch | None = None, resume_state: dict[str, Any] | None = None
) -> TrainResult:
    """Train for ``config.epochs`` x ``gan.iterations_per_epoch`` generator iterations, or on from
    ``resume_state``.

    Stops early, with ``diverged`` set, when a loss is NaN or infinite.
    """
    trial = GanTrial(config)
    if resume_state is not None:
        trial.load_state_dict(resume_state)
    while trial.epoch < config.epochs:
        started = time.perf_counter()
        metrics = trial.train_epoch()
        train_s = time.perf_counter() - started
        trial.epoch += 1
        diverged = not (math.isfinite(metrics["d_loss"]) and math.isfinite(metrics["g_loss"]))
        metrics = {"epoch": trial.epoch, **metrics, "diverged": float(diverged)}
        # the checkpoint keeps numbers only
        trial.history.append({k: v for k, v in metrics.items() if k != "snapshots"})
        if on_epoch is not None:  # with the epoch's timing, which the history leaves out (it varies)
            on_epoch({**metrics, "train_s": train_s}, trial.state_dict)
        if diverged:
            return TrainResult(trial.history, diverged=True)
    return TrainResult(trial.history)
