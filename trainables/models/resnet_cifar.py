"""``resnet18_cifar``: the CIFAR version of ResNet-18 (He et al., 2016, post-activation basic blocks) that
OpenMixup's CIFAR benchmarks train (its ``ResNet_CIFAR``, depth 18): a 3x3 stride-1 stem and no max
pooling, so that 32x32 images keep their resolution in the first stage; stages of 64, 128, 256 and 512
channels, two blocks each, strides 1, 2, 2, 2; global average pooling and one linear layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from ._registry import image_shape


class BasicBlock(nn.Module):
    """conv-BN-ReLU, conv-BN, plus the shortcut (a 1x1 conv and BN where the shape changes), then ReLU."""

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18Cifar(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU()
        )
        stages, in_planes = [], 64
        for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages.append(nn.Sequential(BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes, 1)))
            in_planes = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        out = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return self.fc(self.dropout(F.adaptive_avg_pool2d(out, 1).flatten(1)))

    def manifold_layers(self) -> list[nn.Module]:
        """Manifold Mixup's hidden states: after the first and second stages (Verma et al.'s k in {0, 1, 2},
        the input being k = 0), as OpenMixup's ``manifoldmix`` layer=(0, 3) mixes."""
        return [self.layer1, self.layer2]


def _resnet18_cifar(
    input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float
) -> nn.Module:
    channels, _, _ = image_shape(input_shape, "resnet18_cifar")
    return ResNet18Cifar(channels, num_classes, dropout)
