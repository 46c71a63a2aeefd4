"""Layers shared by the model families."""

from __future__ import annotations

from torch import Tensor, nn


class GlobalAvgPool(nn.Module):
    """(N, C, H, W) to (N, C), the mean over each map: ``AdaptiveAvgPool2d(1)`` plus ``Flatten``, whose CUDA
    backward
    has no deterministic kernel (``use_deterministic_algorithms`` warns on it); a mean's backward is
    deterministic."""

    def forward(self, x: Tensor) -> Tensor:
        return x.mean((2, 3))
