"""Every option of a training trial, in one place, with units in the comments.

Plain dataclasses, so ``trainables`` runs where only torch is installed. The
sweep spec (``mixup_tune.spec``) validates the same dataclasses with pydantic:
``__pydantic_config__`` forbids unknown keys, and ``__post_init__`` checks
ranges and names, both there and here.
"""

from ._checks import BUILTIN_MIX_METHODS, check_option_types, type_problem
from ._evaluation import NOISE_OOD, EvaluationConfig
from ._flat import PLUGIN_VERSIONS, OptionGroup, flatten, grouped, option_value, unflatten
from ._sections import GAN_OPTIONS, GanConfig, OptimizerConfig, ScheduleConfig
from ._train import TrainConfig, defaults_left_out, is_option_name, option_names

__all__ = [
    "BUILTIN_MIX_METHODS",
    "GAN_OPTIONS",
    "EvaluationConfig",
    "NOISE_OOD",
    "GanConfig",
    "OptionGroup",
    "PLUGIN_VERSIONS",
    "OptimizerConfig",
    "ScheduleConfig",
    "TrainConfig",
    "check_option_types",
    "defaults_left_out",
    "flatten",
    "grouped",
    "is_option_name",
    "option_names",
    "option_value",
    "type_problem",
    "unflatten",
]
