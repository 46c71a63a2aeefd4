"""Mixing methods by name: one module per method, each a ``MixMethod`` registered by
``@register_mix_method``.

The registry sits below the methods (``_registry``), as timm's model registry sits below its families; a
user's method registers the same way from its own module (docs/plugins.md). The contract is
``_protocol``'s; what the training step does with a method's batch is ``_step``'s.
"""

from . import (  # noqa: F401  (each registers its method)
    augmix,
    cutmix,
    fmix,
    manifold_mixup,
    mixup,
    puzzlemix,
    randommix,
    regmixup,
    resizemix,
    saliencymix,
    smoothmix,
    timm_modes,
)
from ._functional import Criterion
from ._protocol import NEEDS, SHARED_OPTIONS, Draws, MixContext, MixedBatch, MixMethod, Need, Option
from ._registry import (
    MIX_METHODS,
    build_mix_method,
    checked_options,
    method_class,
    mix_method_names,
    register_mix_method,
)
from ._step import Mixer, batch_loss, mixing_hidden

__all__ = [
    "MIX_METHODS",
    "NEEDS",
    "SHARED_OPTIONS",
    "Criterion",
    "Draws",
    "MixContext",
    "MixMethod",
    "MixedBatch",
    "Mixer",
    "Need",
    "Option",
    "batch_loss",
    "build_mix_method",
    "checked_options",
    "method_class",
    "mix_method_names",
    "mixing_hidden",
    "register_mix_method",
]
