"""The two networks of Section 3.3 for spectrograms (1 x 160 x 101): LeNet and VGG-11, each with two
fully-connected layers.

The paper gives no more than "two convolutional and two fully-connected layers".
``lenet`` is LeNet-5 as Caffe has it (5x5 convolutions of 20 and 50 channels,
each with 2x2 max-pooling, a hidden layer of 500); ``vgg11`` is VGG-11's
configuration-A convolutions (8 layers of 3x3, with batch norm) under a head
of two fully-connected layers. Both pool adaptively before the head, so any
input size works and the head stays small.

A deviation to know of: our LeNet max-pools its 50 maps to 10 x 6 before the
head. On a 160 x 101 spectrogram, Caffe's LeNet would hand the head maps of
37 x 22, 40,700 inputs, and its first fully-connected layer would hold 20M of
the net's weights; pooled to 10 x 6 it has 3,000 inputs (1.5M weights). The
paper does not say what its LeNet did here.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from ._registry import image_shape

# configuration A of Simonyan & Zisserman
_VGG11 = (
    64,
    "M",
    128,
    "M",
    256,
    256,
    "M",
    512,
    512,
    "M",
    512,
    512,
    "M",
)


class LeNet(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 20, 5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(20, 50, 5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.AdaptiveMaxPool2d((10, 6)),  # 37 x 22 for a spectrogram: 3,000 inputs to the head, not 40,700
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(50 * 10 * 6, 500),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(500, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


class VGG11(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.0, hidden: int = 512) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        for width in _VGG11:
            if width == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [
                    nn.Conv2d(channels, int(width), 3, padding=1, bias=False),
                    nn.BatchNorm2d(int(width)),
                    nn.ReLU(inplace=True),
                ]
                channels = int(width)
        # 160 x 101 pools to 5 x 3 already
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d((5, 3)))
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * 15, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def _lenet(
    input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float
) -> nn.Module:
    channels, _, _ = image_shape(input_shape, "lenet")
    return LeNet(channels, num_classes, dropout)


def _vgg11(
    input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float
) -> nn.Module:
    channels, height, width = image_shape(input_shape, "vgg11")
    if min(height, width) < 32:
        raise ValueError(
            "model 'vgg11' pools five times and needs inputs of at least 32 x 32; this dataset gives "
            f"{height} x {width}"
        )
    return VGG11(channels, num_classes, dropout)
