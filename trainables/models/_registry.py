"""The model registry: names to builders, below the model families that fill it (as timm's
``models/_registry.py``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torch import nn

from ..catalogue import MODELS
from .ecosystem import build_ecosystem_model, is_ecosystem_name, name_problem

ModelBuilder = Callable[[tuple[int, ...], int, Sequence[int], float], nn.Module]
register_model = MODELS.register
model_names = MODELS.names


def build_model(
    name: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    hidden_sizes: Sequence[int] = (128, 128),
    dropout: float = 0.0,
    options: Mapping[str, Any] | None = None,
) -> nn.Module:
    """``input_shape`` excludes the batch dimension: (features,) or (channels, height, width). A registry
    name's builder takes ``hidden_sizes`` and ``dropout``; torchvision's, timm's and import strings take
    ``options`` (``ecosystem``)."""
    if is_ecosystem_name(name):
        return build_ecosystem_model(name, tuple(input_shape), num_classes, options or {})
    return MODELS[name](tuple(input_shape), num_classes, hidden_sizes, dropout)


def model_name_problem(name: str) -> str | None:
    """Why no model can be built by ``name``, in one line; None if one can."""
    if is_ecosystem_name(name):
        return name_problem(name)
    return (
        None
        if name in MODELS
        else MODELS.unknown(name) + "; or torchvision/NAME, timm/NAME, package.module:Callable"
    )


def manifold_layers(model: nn.Module, name: str) -> list[nn.Module]:
    """The modules whose outputs Manifold Mixup may mix (the input is always eligible too), or a ValueError
    naming a model that does not say."""
    layers = getattr(model, "manifold_layers", None)
    if layers is None:
        raise ValueError(f"model {name!r} names no layers for manifold_mixup")
    chosen: list[nn.Module] = layers()
    return chosen


def image_shape(input_shape: tuple[int, ...], model: str) -> tuple[int, int, int]:
    """(channels, height, width), or a ValueError naming the model that needs an image."""
    if len(input_shape) != 3:
        raise ValueError(
            f"model {model!r} needs image input (channels, height, width); this dataset gives shape "
            f"{input_shape}"
        )
    channels, height, width = input_shape
    return channels, height, width
