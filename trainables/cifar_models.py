"""Section 3.2's two larger CIFAR networks: WideResNet-28-10 and DenseNet-BC-190 with growth rate 40.

``WideResNet`` follows Zagoruyko & Komodakis (2016): pre-activation basic
blocks, three groups of (depth - 4) / 6 blocks at widths 16k, 32k and 64k,
dropout between the two convolutions of a block (the paper uses none).
``DenseNetBC`` follows Huang et al. (2017): three dense blocks of
(depth - 4) / 6 bottleneck layers (1x1 to 4 x growth, then 3x3 to growth),
transitions halving the channels, an initial convolution of 2 x growth.
Both are built at any depth and width, so tests can train small ones; the
registered names are the paper's sizes (36.5M and 25.8M parameters).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .models import GlobalAvgPool, _image_shape, register_model


class _WideBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(in_planes), nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(planes), nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.shortcut = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False) if stride != 1 or in_planes != planes else None

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(x))
        shortcut = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(self.dropout(F.relu(self.bn2(out))))
        return out + shortcut


class WideResNet(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, depth: int = 28, widen: int = 10, dropout: float = 0.0) -> None:
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"WideResNet depth must be 6n + 4; got {depth}")
        blocks = (depth - 4) // 6
        widths = [16, 16 * widen, 32 * widen, 64 * widen]
        layers: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)]
        for group, (planes, stride) in enumerate(zip(widths[1:], (1, 2, 2))):
            for block in range(blocks):
                layers.append(_WideBlock(widths[group] if block == 0 else planes, planes, stride if block == 0 else 1, dropout))
        self.features = nn.Sequential(*layers, nn.BatchNorm2d(widths[-1]), nn.ReLU(inplace=True), GlobalAvgPool())
        self.head = nn.Linear(widths[-1], num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class _DenseLayer(nn.Module):
    def __init__(self, in_planes: int, growth: int) -> None:
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(in_planes), nn.Conv2d(in_planes, 4 * growth, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(4 * growth), nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(F.relu(self.bn2(self.conv1(F.relu(self.bn1(x))))))
        return torch.cat([x, out], 1)


class DenseNetBC(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, depth: int = 190, growth: int = 40, compression: float = 0.5) -> None:
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"DenseNet-BC depth must be 6n + 4; got {depth}")
        per_block = (depth - 4) // 6
        planes = 2 * growth
        layers: list[nn.Module] = [nn.Conv2d(in_channels, planes, 3, padding=1, bias=False)]
        for block in range(3):
            for _ in range(per_block):
                layers.append(_DenseLayer(planes, growth))
                planes += growth
            if block < 2:  # transition: halve the channels and the resolution
                out = int(planes * compression)
                layers += [nn.BatchNorm2d(planes), nn.ReLU(inplace=True), nn.Conv2d(planes, out, 1, bias=False), nn.AvgPool2d(2)]
                planes = out
        self.features = nn.Sequential(*layers, nn.BatchNorm2d(planes), nn.ReLU(inplace=True), GlobalAvgPool())
        self.head = nn.Linear(planes, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


@register_model("wrn28_10")
def _wrn28_10(input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float) -> nn.Module:
    channels, _, _ = _image_shape(input_shape, "wrn28_10")
    return WideResNet(channels, num_classes, depth=28, widen=10, dropout=dropout)


@register_model("densenet_bc190")
def _densenet_bc190(input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float) -> nn.Module:
    channels, _, _ = _image_shape(input_shape, "densenet_bc190")
    if dropout > 0:
        raise ValueError("model 'densenet_bc190' has no dropout option (the paper trains it without)")
    return DenseNetBC(channels, num_classes, depth=190, growth=40)
