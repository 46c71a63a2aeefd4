"""The CIFAR networks (32 x 32 inputs) of Sections 3.2 and 3.4.

- ``preact_resnet18_authors``: PreAct ResNet-18 as the mixup authors released it,
  the network of Sections 3.2 and 3.4 (the paper sweeps use it);
  ``preact_resnet18``: He et al.'s (2016) original. Both with the optional dropout
  of Section 3.4: one dropout layer in each block, after the ReLU between the two
  convolutions.
- ``fast_cifar``: an airbench94-style net (2M parameters) for quick CIFAR studies on a GPU.
- Section 3.2's two larger networks: WideResNet-28-10 and DenseNet-BC-190 with growth rate 40.

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

from ._layers import GlobalAvgPool
from ._registry import image_shape


class _WideBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.bn1, self.conv1 = (
            nn.BatchNorm2d(in_planes),
            nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False),
        )
        self.bn2, self.conv2 = nn.BatchNorm2d(planes), nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.shortcut = (
            nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False)
            if stride != 1 or in_planes != planes
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(x))
        shortcut = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(self.dropout(F.relu(self.bn2(out))))
        return out + shortcut


class WideResNet(nn.Module):
    def __init__(
        self, in_channels: int, num_classes: int, depth: int = 28, widen: int = 10, dropout: float = 0.0
    ) -> None:
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"WideResNet depth must be 6n + 4; got {depth}")
        blocks = (depth - 4) // 6
        widths = [16, 16 * widen, 32 * widen, 64 * widen]
        layers: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)]
        for group, (planes, stride) in enumerate(zip(widths[1:], (1, 2, 2))):
            for block in range(blocks):
                layers.append(
                    _WideBlock(
                        widths[group] if block == 0 else planes, planes, stride if block == 0 else 1, dropout
                    )
                )
        self.features = nn.Sequential(
            *layers, nn.BatchNorm2d(widths[-1]), nn.ReLU(inplace=True), GlobalAvgPool()
        )
        self.head = nn.Linear(widths[-1], num_classes)
        self.blocks = blocks

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    def manifold_layers(self) -> list[nn.Module]:
        """Manifold Mixup's hidden states, as Verma et al. mix a WideResNet: after its first and second
        groups."""
        return [self.features[self.blocks], self.features[2 * self.blocks]]


class _DenseLayer(nn.Module):
    def __init__(self, in_planes: int, growth: int) -> None:
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(in_planes), nn.Conv2d(in_planes, 4 * growth, 1, bias=False)
        self.bn2, self.conv2 = (
            nn.BatchNorm2d(4 * growth),
            nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv2(F.relu(self.bn2(self.conv1(F.relu(self.bn1(x))))))
        return torch.cat([x, out], 1)


class DenseNetBC(nn.Module):
    def __init__(
        self, in_channels: int, num_classes: int, depth: int = 190, growth: int = 40, compression: float = 0.5
    ) -> None:
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
                layers += [
                    nn.BatchNorm2d(planes),
                    nn.ReLU(inplace=True),
                    nn.Conv2d(planes, out, 1, bias=False),
                    nn.AvgPool2d(2),
                ]
                planes = out
        self.features = nn.Sequential(*layers, nn.BatchNorm2d(planes), nn.ReLU(inplace=True), GlobalAvgPool())
        self.head = nn.Linear(planes, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def _wrn28_10(
    input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float
) -> nn.Module:
    channels, _, _ = image_shape(input_shape, "wrn28_10")
    return WideResNet(channels, num_classes, depth=28, widen=10, dropout=dropout)


def _densenet_bc190(
    input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float
) -> nn.Module:
    channels, _, _ = image_shape(input_shape, "densenet_bc190")
    if dropout > 0:
        raise ValueError("model 'densenet_bc190' has no dropout option (the paper trains it without)")
    return DenseNetBC(channels, num_classes, depth=190, growth=40)


class PreActBlock(nn.Module):
    """BN-ReLU-conv twice, plus the shortcut. ``shortcut_from_activation``: the shortcut takes the
    block's pre-activation BN-ReLU(x) even when it is the identity, as the mixup authors' code does;
    else x itself, as He et al. (2016) do (the projection shortcut takes the pre-activation in both)."""

    expansion = 1

    def __init__(
        self, in_planes: int, planes: int, stride: int, dropout: float, shortcut_from_activation: bool = False
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        # Section 3.4: "one dropout layer in each PreAct block after the ReLU
        # activation layer between two convolution layers".
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.shortcut: nn.Module | None = None
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False)
        self.shortcut_from_activation = shortcut_from_activation

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(x))
        if self.shortcut is not None:
            shortcut = self.shortcut(out)
        else:
            shortcut = out if self.shortcut_from_activation else x
        out = self.conv1(out)
        out = self.dropout(F.relu(self.bn2(out)))
        return self.conv2(out) + shortcut


class PreActResNet18(nn.Module):
    """Two variants of one network (11.17M parameters with 10 classes):

    - ``authors=False`` (``preact_resnet18``): He et al. (2016): a bare 3x3 stem
      convolution, identity shortcuts of x, and a final BN-ReLU before pooling;
      11,172,170 parameters.
    - ``authors=True`` (``preact_resnet18_authors``): the mixup authors' released
      code (facebookresearch/mixup-cifar10, ``models/resnet.py``, after Liu 2017),
      which the paper's CIFAR numbers come from: a conv-BN-ReLU stem, shortcuts
      of the pre-activation, no final BN-ReLU; 11,171,274 parameters.
    """

    def __init__(
        self, in_channels: int = 3, num_classes: int = 10, dropout: float = 0.0, authors: bool = False
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        self.stem_bn: nn.Module = nn.BatchNorm2d(64) if authors else nn.Identity()
        layers: list[nn.Module] = []
        in_planes = 64
        for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            for block_stride in (stride, 1):
                layers.append(
                    PreActBlock(in_planes, planes, block_stride, dropout, shortcut_from_activation=authors)
                )
                in_planes = planes
        self.layers = nn.Sequential(*layers)
        self.bn: nn.Module = nn.Identity() if authors else nn.BatchNorm2d(512)
        self.authors = authors
        self.linear = nn.Linear(512, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(x)
        if self.authors:
            out = F.relu(self.stem_bn(out))
        out = self.layers(out)
        if not self.authors:
            out = F.relu(self.bn(out))
        return self.linear(out.mean((2, 3)))  # global average pooling (see GlobalAvgPool)

    def manifold_layers(self) -> list[nn.Module]:
        """Manifold Mixup's hidden states, as Verma et al.'s code mixes PreAct ResNet-18 (k in {0, 1, 2}):
        after its first and second stages."""
        return [self.layers[1], self.layers[3]]


def _preact_resnet18(
    input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float
) -> nn.Module:
    channels, _, _ = image_shape(input_shape, "preact_resnet18")
    return PreActResNet18(channels, num_classes, dropout)


def _preact_resnet18_authors(
    input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float
) -> nn.Module:
    channels, _, _ = image_shape(input_shape, "preact_resnet18_authors")
    return PreActResNet18(channels, num_classes, dropout, authors=True)


class ConvGroup(nn.Sequential):
    """conv3x3, max-pool /2, BN, GELU, conv3x3, BN, GELU: one resolution of the fast net."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, channels, 3, padding="same", bias=False),
            nn.MaxPool2d(2),
            nn.BatchNorm2d(channels),
            nn.GELU(),
            nn.Conv2d(channels, channels, 3, padding="same", bias=False),
            nn.BatchNorm2d(channels),
            nn.GELU(),
        )


class FastCifarNet(nn.Sequential):
    """A fast CIFAR network in the spirit of airbench94 (Keller Jordan, 2024), for quick studies.

    A 2x2 stem convolution, three conv groups of 64, 256 and 256 channels that
    each halve the resolution, a global max-pool and a bias-free linear head
    whose logits are scaled by 1/9. About 2M parameters, against PreAct
    ResNet-18's 11M: airbench reaches 94% on CIFAR-10 with it in about 10
    epochs. airbench's other tricks (whitening initialisation, label smoothing,
    Lookahead, test-time flips) are left out, so that the optimiser, schedule
    and loss stay the sweep's.
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 10,
        widths: tuple[int, int, int] = (64, 256, 256),
        dropout: float = 0.0,
    ) -> None:
        stem = (
            24  # 2x2 patches of 3 channels: 12 numbers, 24 filters (airbench: +/- each whitening direction)
        )
        super().__init__(
            nn.Conv2d(in_channels, stem, 2, bias=True),
            nn.GELU(),
            ConvGroup(stem, widths[0]),
            ConvGroup(widths[0], widths[1]),
            ConvGroup(widths[1], widths[2]),
            nn.AdaptiveMaxPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
            nn.Linear(widths[2], num_classes, bias=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x) / 9  # airbench's logit temperature: the head starts nearly uniform

    def manifold_layers(self) -> list[nn.Module]:
        """Manifold Mixup's hidden states: after the first and second conv groups, as for the ResNets."""
        return [self[2], self[3]]


def _fast_cifar(
    input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float
) -> nn.Module:
    channels, height, width = image_shape(input_shape, "fast_cifar")
    if min(height, width) < 17:
        raise ValueError(
            "model 'fast_cifar' needs images of at least 17x17 (it halves the resolution three times after "
            f"a 2x2 stem); this dataset gives {height}x{width}"
        )
    return FastCifarNet(channels, num_classes, dropout=dropout)
