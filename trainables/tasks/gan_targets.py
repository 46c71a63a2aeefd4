"""The toy 2-D distributions of GAN studies (Section 3.7), and how close a generator's samples come to them.

- ``ring``: 8 Gaussians, std 0.02, evenly spaced on a circle of radius 2;
- ``grid``: 25 Gaussians, std 0.05, on the 5 x 5 grid {-4, -2, 0, 2, 4}^2;
- ``spiral``: a noisy spiral (std 0.05) of 1.75 turns out to radius ~2.8, with no modes;
- ``ring_unit`` and ``grid_unit``: the targets of the mixup authors' released GAN code
  (hongyi-zhang/mixup, ``gan/example_gan.py``): 8 Gaussians on the unit circle and
  a 5 x 5 grid scaled to [-1, 1], both with std 0.01.

These are the targets of the GAN literature's mode-collapse studies
(Metz et al. 2017; VEEGAN, Srivastava et al. 2017; PacGAN), and their metrics:

- ``high_quality``: % of samples within 3 std of the target's skeleton (the
  mode centres, or the spiral's centre line); for the unit targets, within 0.09
  (9 std: at std 0.01, 3 std is a radius the generators of a few thousand
  iterations do not reach, and 0.09 is still under a fifth of the 0.5 between
  grid modes);
- ``modes_covered``: modes (of 8 or 25) holding at least a fifth of their fair
  share of the high-quality samples (PacGAN's "fewer than 20 of 2,500" on the
  grid); mixtures only;
- ``sample_distance``: the sliced Wasserstein-1 distance between the samples
  and a fixed draw from the target, over 64 fixed directions, in the data's units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

COVERED_SHARE = (
    0.2  # a mode is covered when it holds this fraction of an even split of the high-quality samples
)
QUALITY_STDS = 3.0  # a sample is of high quality within this many stds of the skeleton
DIRECTIONS = 64  # random unit vectors of the sliced Wasserstein distance
METRIC_SEED = 12345  # the reference draw and the directions: the same for every trial


@dataclass(frozen=True)
class Target:
    name: str
    skeleton: Tensor  # (K, 2): mode centres, or points along the spiral's centre line
    std: float  # of the Gaussian noise around the skeleton
    modes: bool  # whether each skeleton point is a mode (a mixture) or a sample of a curve
    quality_radius: float = (
        0.0  # a sample within this of the skeleton is of high quality; 0: QUALITY_STDS x std
    )

    @property
    def high_quality_within(self) -> float:
        return self.quality_radius or QUALITY_STDS * self.std

    def sample(self, count: int, generator: torch.Generator) -> Tensor:
        """``count`` points: a uniform skeleton point each, plus isotropic Gaussian noise."""
        device = generator.device
        which = torch.randint(len(self.skeleton), (count,), generator=generator, device=device)
        noise = torch.randn(count, 2, generator=generator, device=device)
        return self.skeleton.to(device)[which] + self.std * noise


def _ring() -> Target:
    angles = torch.arange(8) * (2 * math.pi / 8)
    return Target("ring", 2.0 * torch.stack([angles.cos(), angles.sin()], 1), 0.02, True)


def _grid() -> Target:
    axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
    return Target("grid", torch.cartesian_prod(axis, axis), 0.05, True)


def _spiral() -> Target:
    # Uniform in the angle, which puts more points per unit length near the centre, as a swiss roll does.
    turns = torch.linspace(0.0, 1.0, 2000) * 3.5 * math.pi + 1.5 * math.pi  # radians, from 1.5 pi out to 5 pi
    radius = turns / (5 * math.pi) * 2.8
    return Target("spiral", torch.stack([radius * turns.cos(), radius * turns.sin()], 1), 0.05, False)


def _ring_unit() -> Target:
    angles = torch.arange(8) * (2 * math.pi / 8)  # the released code's means: (sin t, cos t)
    return Target("ring_unit", torch.stack([angles.sin(), angles.cos()], 1), 0.01, True, quality_radius=0.09)


def _grid_unit() -> Target:
    axis = torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0])
    return Target("grid_unit", torch.cartesian_prod(axis, axis), 0.01, True, quality_radius=0.09)


TARGETS = {
    "ring": _ring(),
    "grid": _grid(),
    "spiral": _spiral(),
    "ring_unit": _ring_unit(),
    "grid_unit": _grid_unit(),
}


class SampleQuality:
    """The metrics above for one target, with its reference draw and directions fixed once."""

    def __init__(self, target: Target, device: torch.device, reference_size: int = 2500) -> None:
        self.target = target
        generator = torch.Generator(device).manual_seed(METRIC_SEED)
        self.reference = target.sample(reference_size, generator)
        directions = torch.randn(2, DIRECTIONS, generator=generator, device=device)
        self.directions = directions / directions.norm(dim=0, keepdim=True)
        self.skeleton = target.skeleton.to(device)

    def __call__(self, samples: Tensor) -> dict[str, float]:
        samples = samples.float()
        distances = torch.cdist(samples, self.skeleton)  # (N, K)
        nearest, which = distances.min(dim=1)
        good = nearest <= self.target.high_quality_within
        metrics = {
            "high_quality": 100.0 * float(good.float().mean()),
            "sample_distance": self.sliced_wasserstein(samples),
        }
        if self.target.modes:
            counts = torch.bincount(which[good], minlength=len(self.skeleton))
            fair_share = len(samples) / len(self.skeleton)
            metrics["modes_covered"] = float((counts >= COVERED_SHARE * fair_share).sum())
        return metrics

    def sliced_wasserstein(self, samples: Tensor) -> float:
        """Mean over directions of the 1-D Wasserstein-1 distance, from sorted projections (quantiles when
        sizes differ)."""
        ours = torch.sort(samples @ self.directions, dim=0).values
        theirs = torch.sort(self.reference @ self.directions, dim=0).values
        if len(ours) != len(theirs):
            quantiles = torch.linspace(0, 1, len(ours), device=ours.device)
            theirs = torch.quantile(theirs, quantiles, dim=0)
        return float((ours - theirs).abs().mean())
