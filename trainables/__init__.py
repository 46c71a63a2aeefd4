"""Pure-PyTorch mixup trainables: no Ray, no MLflow.

    from trainables import TrainConfig, train
    result = train(TrainConfig(dataset="digits", alpha=1.0), on_epoch=lambda metrics, checkpoint:
    print(metrics))

Names are imported from their modules on first use (PEP 562), so that reading
options (``trainables.config``, plain dataclasses) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "config": ["OptimizerConfig", "ScheduleConfig", "TrainConfig", "option_names"],
    "corruption": ["CorruptedLabels", "corrupt_labels"],
    "data": ["Splits", "dataset_names", "default_data_root", "load_data", "register_dataset"],
    "errors": ["ConfigError", "DatasetError"],
    "tasks": ["Metrics", "OnEpoch", "TrainResult", "Trial", "train"],
    "mixup": ["MixupSampler", "mix_inputs", "mixup_cross_entropy", "training_loss"],
    "metrics": ["register_metric"],
    "mixing": [
        "Draws",
        "MixContext",
        "MixMethod",
        "MixedBatch",
        "Option",
        "mix_method_names",
        "register_mix_method",
    ],
    "models": ["build_model", "model_names", "register_model"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = [
    "ConfigError",
    "CorruptedLabels",
    "DatasetError",
    "Draws",
    "Metrics",
    "MixContext",
    "MixMethod",
    "MixedBatch",
    "MixupSampler",
    "OnEpoch",
    "OptimizerConfig",
    "Option",
    "ScheduleConfig",
    "Splits",
    "TrainConfig",
    "TrainResult",
    "Trial",
    "build_model",
    "corrupt_labels",
    "dataset_names",
    "default_data_root",
    "load_data",
    "mix_inputs",
    "mix_method_names",
    "mixup_cross_entropy",
    "model_names",
    "option_names",
    "register_dataset",
    "register_metric",
    "register_mix_method",
    "register_model",
    "train",
    "training_loss",
]
assert sorted(_MODULE_OF) == __all__  # one list to keep: the lazy table above

if TYPE_CHECKING:
    from .config import OptimizerConfig, ScheduleConfig, TrainConfig, option_names
    from .corruption import CorruptedLabels, corrupt_labels
    from .data import Splits, dataset_names, default_data_root, load_data, register_dataset
    from .errors import ConfigError, DatasetError
    from .metrics import register_metric
    from .mixing import (
        Draws,
        MixContext,
        MixedBatch,
        MixMethod,
        Option,
        mix_method_names,
        register_mix_method,
    )
    from .mixup import MixupSampler, mix_inputs, mixup_cross_entropy, training_loss
    from .models import build_model, model_names, register_model
    from .tasks import Metrics, OnEpoch, TrainResult, Trial, train


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'trainables' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value  # once
    return value
