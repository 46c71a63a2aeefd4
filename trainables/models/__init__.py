"""Models by name: ``build_model(name, input_shape, num_classes, hidden_sizes, dropout)``.

Each family module registers its builders on import (``register_model``); the
registry sits below them (``_registry``), so no family imports this package.
"""

from . import cifar, imagenet, small, speech  # noqa: F401  (each registers its models)
from ._layers import GlobalAvgPool
from ._registry import (
    MODELS,
    build_model,
    image_shape,
    manifold_layers,
    model_name_problem,
    model_names,
    register_model,
)
from .ecosystem import forward_problem, is_ecosystem_name
from .small import MLP

__all__ = [
    "MLP",
    "MODELS",
    "GlobalAvgPool",
    "build_model",
    "forward_problem",
    "is_ecosystem_name",
    "image_shape",
    "manifold_layers",
    "model_name_problem",
    "model_names",
    "register_model",
]
