"""The small models of the paper's quick studies: ``mlp`` and ``cnn``.

- ``mlp``: fully connected ReLU net; the paper's tabular net is 2 x 128 (Section 3.6).
- ``cnn``: a small conv net for 8x8 (digits) up to 28x28 (Fashion-MNIST) inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from ._layers import GlobalAvgPool
from ._registry import image_shape


class MLP(nn.Sequential):
    def __init__(
        self, in_features: int, hidden_sizes: Sequence[int], num_classes: int, dropout: float = 0.0
    ) -> None:
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU(inplace=True)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        super().__init__(*layers)

    def manifold_layers(self) -> list[nn.Module]:
        """Manifold Mixup's hidden states: each hidden layer's output (after its ReLU, and its dropout)."""
        ends = [
            i + (isinstance(self[i + 1], nn.Dropout)) for i, m in enumerate(self) if isinstance(m, nn.ReLU)
        ]
        return [self[i] for i in ends]


def _mlp(
    input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float
) -> nn.Module:
    return MLP(math.prod(input_shape), hidden_sizes, num_classes, dropout)


class SmallCNN(nn.Module):
    """Two conv-BN-ReLU stages (``widths``: 32 and 64 channels) and a pooled linear head.

    Pooling only when the map is at least 8 pixels wide keeps 8x8 digits and
    28x28 Fashion-MNIST on one architecture.
    """

    def __init__(
        self,
        in_channels: int,
        image_size: int,
        num_classes: int,
        dropout: float = 0.0,
        widths: Sequence[int] = (32, 64),
    ) -> None:
        super().__init__()
        pool = image_size >= 16
        first, second = widths
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, first, 3, padding=1, bias=False),
            nn.BatchNorm2d(first),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2) if pool else nn.Identity(),
            nn.Conv2d(first, second, 3, padding=1, bias=False),
            nn.BatchNorm2d(second),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2) if pool else nn.Identity(),
        )
        # Flatten: a no-op that keeps the saved models' keys
        self.head = nn.Sequential(
            GlobalAvgPool(), nn.Flatten(), nn.Dropout(dropout), nn.Linear(second, num_classes)
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))

    def manifold_layers(self) -> list[nn.Module]:
        """Manifold Mixup's hidden states: the output of each conv stage (after its pooling)."""
        return [self.features[3], self.features[7]]


def _cnn(
    input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float
) -> nn.Module:
    channels, height, _ = image_shape(input_shape, "cnn")
    return SmallCNN(channels, height, num_classes, dropout)


def _cnn_narrow(
    input_shape: tuple[int, ...], num_classes: int, hidden_sizes: Sequence[int], dropout: float
) -> nn.Module:
    """``cnn`` at a quarter of its widths (8 and 16 channels): the regularisers-small study's, whose sixteen
    methods must fit a 2-core machine."""
    channels, height, _ = image_shape(input_shape, "cnn_narrow")
    return SmallCNN(channels, height, num_classes, dropout, (8, 16))
