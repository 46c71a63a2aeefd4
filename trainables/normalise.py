"""Input normalisation from the training split's statistics: per channel for images, per feature for tables.

Images are scaled to [0, 1] first (uint8 / 255) and standardised per channel,
as torchvision's ``Normalize`` does with a dataset's channel means and stds.

Tables are standardised per feature, as scikit-learn's ``StandardScaler``
does (population std, ``ddof=0``). A feature that is constant or nearly so in
the training split is centred but not scaled: its std says nothing about how
far an unseen value lies, and dividing by it made outliers of any test value
that differs (Arcene has 80 constant training features; a floor of 1e-6 on
the std put its test inputs at |z| = 1.2e8). scikit-learn centres without
scaling only exactly constant features; "nearly constant" here is a std of at
most ``NEAR_CONSTANT`` times the feature's largest training magnitude, which
also covers constants that float rounding has given a tiny spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

_CHUNK = 8192  # examples per pass when taking the statistics
NEAR_CONSTANT = 1e-4  # a feature whose training std is at most this fraction of its largest |value| is centred, not scaled


def as_unit_range(x: Tensor) -> Tensor:
    """Stored examples as floats: uint8 images scaled to [0, 1], other data as they are."""
    return x.float() / 255 if x.dtype == torch.uint8 else x.float()


@dataclass(frozen=True)
class Normalisation:
    """``(x - mean) / scale`` with the training split's statistics, broadcast over a batch."""

    mean: Tensor  # (C, 1, 1) for images, (D,) for tables
    scale: Tensor  # the std, or 1 where a feature is (nearly) constant
    per_channel: bool
    centred_only: int  # features (or channels) centred but not scaled
    origin: str = "the training split"  # whose statistics these are

    @classmethod
    def fit(cls, x_train: Tensor) -> Normalisation:
        """Statistics of stored training examples (uint8 or float; (N, C, H, W) images or (N, D) features)."""
        per_channel = x_train.dim() == 4
        dims = (0, 2, 3) if per_channel else (0,)
        # Two passes in float64 over chunks: no float64 copy of the whole split (1.2 GB for CIFAR-10), and
        # no cancellation in the variance of a feature whose mean dwarfs its spread (the near-constant case).
        parts = lambda: (as_unit_range(chunk).double() for chunk in x_train.split(_CHUNK))  # noqa: E731
        count = x_train.numel() // x_train.shape[1] if per_channel else len(x_train)  # values per channel or feature
        mean = sum(part.sum(dims) for part in parts()) / count
        shape = (-1, 1, 1) if per_channel else (-1,)
        variance = sum(((part - mean.view(shape)) ** 2).sum(dims) for part in parts()) / count
        largest = torch.stack([part.abs().amax(dims) for part in parts()]).amax(0)
        std = variance.sqrt()
        constant = std <= NEAR_CONSTANT * largest
        scale = torch.where(constant, torch.ones_like(std), std)
        return cls(mean.float().view(shape), scale.float().view(shape), per_channel, int(constant.sum()))

    def __call__(self, x: Tensor) -> Tensor:
        """Float inputs in the stored scale ([0, 1] for images) to normalised inputs."""
        return (x - self.mean) / self.scale

    def to(self, device: torch.device) -> Normalisation:
        return Normalisation(self.mean.to(device), self.scale.to(device), self.per_channel, self.centred_only, self.origin)

    def describe(self) -> str:
        """What a run logs (``mixup_tune.normalisation``): which statistics, and how many features were only centred."""
        if self.per_channel:
            text = f"per-channel mean/std of {self.origin} ({self.mean.numel()} channels, uint8 pixels / 255 first)"
        else:
            text = f"per-feature mean/std of {self.origin} ({self.mean.numel()} features, population std as StandardScaler)"
        return text + (f"; {self.centred_only} near-constant centred, not scaled" if self.centred_only else "")


__all__ = ["NEAR_CONSTANT", "Normalisation", "as_unit_range"]
