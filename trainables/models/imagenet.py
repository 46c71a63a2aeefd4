"""Section 3.1's ImageNet networks, from torchvision: ResNet-50, ResNet-101, ResNeXt-101 32x4d and 64x4d,
untrained.

torchvision builds ResNeXt-101 as 32x8d and 64x4d; the paper's 32x4d is the
same ``ResNet`` with 32 groups of width 4. Any input size of 32 x 32 or
more works (global pooling before the head); ImageNet's is 224 x 224.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ._registry import ModelBuilder, image_shape


def _torchvision(name: str, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    from torchvision.models import resnet

    channels, height, width = image_shape(input_shape, name)
    if channels != 3 or min(height, width) < 32:
        raise ValueError(
            f"model {name!r} needs colour images of at least 32 x 32; this dataset gives {channels} x "
            f"{height} x {width}"
        )
    if name == "resnext101_32x4d":
        return resnet.ResNet(
            resnet.Bottleneck, [3, 4, 23, 3], num_classes=num_classes, groups=32, width_per_group=4
        )
    builders = {
        "resnet50": resnet.resnet50,
        "resnet101": resnet.resnet101,
        "resnext101_64x4d": resnet.resnext101_64x4d,
    }
    return builders[name](weights=None, num_classes=num_classes)


def _builder(name: str) -> ModelBuilder:
    def build(
        input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float
    ) -> nn.Module:
        if dropout > 0:
            raise ValueError(f"model {name!r} has no dropout option")
        return _torchvision(name, input_shape, num_classes)

    return build


# by the names trainables.catalogue declares them under
_resnet50 = _builder("resnet50")
_resnet101 = _builder("resnet101")
_resnext101_32x4d = _builder("resnext101_32x4d")
_resnext101_64x4d = _builder("resnext101_64x4d")
