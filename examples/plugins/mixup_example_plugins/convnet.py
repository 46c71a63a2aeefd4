"""A model, registered by name: a builder of (input shape, classes, hidden_sizes, dropout)."""

from torch import nn

from trainables import register_model


class ConvNet(nn.Module):
    def __init__(self, channels: int, classes: int, width: int, dropout: float) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * width, classes)
        )

    def forward(self, x):
        return self.head(self.features(x))

    def manifold_layers(self) -> list[nn.Module]:
        """Where Manifold Mixup may mix: after each block (optional: only for manifold_mixup)."""
        return [self.features[2], self.features[5]]


@register_model("example_convnet")
def example_convnet(input_shape, num_classes, hidden_sizes, dropout):
    return ConvNet(input_shape[0], num_classes, hidden_sizes[0], dropout)
