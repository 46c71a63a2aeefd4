"""Models by name: ``build_model(name, input_shape, num_classes, hidden_sizes, dropout)``.

The built-in models are declared by name in ``trainables.catalogue`` and their family module is
imported on first use; a user's own model registers itself (``register_model``). The registry sits
below the families (``_registry``), so no family imports this package.
"""

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
