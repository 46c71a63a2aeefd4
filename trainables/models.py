"""The models of the paper's smaller studies, by name.

- ``mlp``: fully connected ReLU net; the paper's tabular net is 2 x 128 (Section 3.6).
- ``cnn``: a small conv net for 8x8 (digits) up to 28x28 (Fashion-MNIST) inputs.
- ``preact_resnet18_authors``: PreAct ResNet-18 as the mixup authors released it,
  for 32x32 inputs, the network of Sections 3.2 and 3.4 (the paper sweeps use it);
  ``preact_resnet18``: He et al.'s (2016) original. Both with the optional dropout
  of Section 3.4: one dropout layer in each block, after the ReLU between the two
  convolutions.
- ``fast_cifar``: an airbench94-style net (2M parameters) for quick CIFAR studies on a GPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from .registry import Registry

ModelBuilder = Callable[[tuple[int, ...], int, Sequence[int], float], nn.Module]
MODELS: Registry[ModelBuilder] = Registry("model")
register_model = MODELS.register
model_names = MODELS.names


def build_model(name: str, input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int] = (128, 128), dropout: float = 0.0) -> nn.Module:
    """``input_shape`` excludes the batch dimension: (features,) or (channels, height, width)."""
    return MODELS[name](tuple(input_shape), num_classes, hidden_sizes, dropout)


class MLP(nn.Sequential):
    def __init__(self, in_features: int, hidden_sizes: Sequence[int], num_classes: int, dropout: float = 0.0) -> None:
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU(inplace=True)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        super().__init__(*layers)


@register_model("mlp")
def _mlp(input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float) -> nn.Module:
    return MLP(math.prod(input_shape), hidden_sizes, num_classes, dropout)


class SmallCNN(nn.Module):
    """Two conv-BN-ReLU stages (32, 64 channels) and a pooled linear head.

    Pooling only when the map is at least 8 pixels wide keeps 8x8 digits and
    28x28 Fashion-MNIST on one architecture.
    """

    def __init__(self, in_channels: int, image_size: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        pool = image_size >= 16
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3, padding=1, bias=False),
            nn.BatchNorm2d(32),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2) if pool else nn.Identity(),
            nn.Conv2d(32, 64, 3, padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2) if pool else nn.Identity(),
        )
        self.head = nn.Sequential(GlobalAvgPool(), nn.Flatten(), nn.Dropout(dropout), nn.Linear(64, num_classes))  # Flatten: a no-op that keeps the saved models' keys

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class GlobalAvgPool(nn.Module):
    """(N, C, H, W) to (N, C), the mean over each map: ``AdaptiveAvgPool2d(1)`` plus ``Flatten``, whose CUDA backward
    has no deterministic kernel (``use_deterministic_algorithms`` warns on it); a mean's backward is deterministic."""

    def forward(self, x: Tensor) -> Tensor:
        return x.mean((2, 3))


def _image_shape(input_shape: tuple[int, ...], model: str) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ValueError(f"model {model!r} needs image input (channels, height, width); this dataset gives shape {input_shape}")
    return input_shape  # type: ignore[return-value]


@register_model("cnn")
def _cnn(input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float) -> nn.Module:
    channels, height, _ = _image_shape(input_shape, "cnn")
    return SmallCNN(channels, height, num_classes, dropout)


class PreActBlock(nn.Module):
    """BN-ReLU-conv twice, plus the shortcut. ``shortcut_from_activation``: the shortcut takes the
    block's pre-activation BN-ReLU(x) even when it is the identity, as the mixup authors' code does;
    else x itself, as He et al. (2016) do (the projection shortcut takes the pre-activation in both)."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int, dropout: float, shortcut_from_activation: bool = False) -> None:
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

    def __init__(self, in_channels: int = 3, num_classes: int = 10, dropout: float = 0.0, authors: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        self.stem_bn: nn.Module = nn.BatchNorm2d(64) if authors else nn.Identity()
        layers: list[nn.Module] = []
        in_planes = 64
        for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            for block_stride in (stride, 1):
                layers.append(PreActBlock(in_planes, planes, block_stride, dropout, shortcut_from_activation=authors))
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


@register_model("preact_resnet18")
def _preact_resnet18(input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float) -> nn.Module:
    channels, _, _ = _image_shape(input_shape, "preact_resnet18")
    return PreActResNet18(channels, num_classes, dropout)


@register_model("preact_resnet18_authors")
def _preact_resnet18_authors(input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float) -> nn.Module:
    channels, _, _ = _image_shape(input_shape, "preact_resnet18_authors")
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

    def __init__(self, in_channels: int = 3, num_classes: int = 10, widths: tuple[int, int, int] = (64, 256, 256), dropout: float = 0.0) -> None:
        stem = 24  # 2x2 patches of 3 channels: 12 numbers, 24 filters (airbench: +/- each whitening direction)
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


@register_model("fast_cifar")
def _fast_cifar(input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float) -> nn.Module:
    channels, height, width = _image_shape(input_shape, "fast_cifar")
    if min(height, width) < 17:
        raise ValueError(f"model 'fast_cifar' needs images of at least 17x17 (it halves the resolution three times after a 2x2 stem); this dataset gives {height}x{width}")
    return FastCifarNet(channels, num_classes, dropout=dropout)
from . import speech_models  # noqa: E402, F401  (registers lenet and vgg11, Section 3.3)
from . import cifar_models  # noqa: E402, F401  (registers wrn28_10 and densenet_bc190, Section 3.2)
from . import imagenet_models  # noqa: E402, F401  (registers resnet50, resnet101 and resnext101_32x4d, Section 3.1)
