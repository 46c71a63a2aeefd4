"""Pure-PyTorch mixup trainables: no Ray, no MLflow.

    from trainables import TrainConfig, train
    result = train(TrainConfig(dataset="digits", alpha=1.0), on_epoch=lambda metrics, checkpoint: print(metrics))
"""

from .config import OptimizerConfig, ScheduleConfig, TrainConfig, option_names
from .corruption import CorruptedLabels, corrupt_labels
from .data import Splits, dataset_names, default_data_root, load_data, register_dataset
from .errors import ConfigError, DatasetError
from .loop import Metrics, OnEpoch, TrainResult, Trial, train
from .mixup import MixupSampler, mix_inputs, mixup_cross_entropy, training_loss
from .models import build_model, model_names, register_model

__all__ = [
    "ConfigError", "CorruptedLabels", "DatasetError", "Metrics", "MixupSampler", "OnEpoch",
    "OptimizerConfig", "ScheduleConfig", "Splits", "TrainConfig", "TrainResult", "Trial",
    "build_model", "corrupt_labels", "dataset_names", "default_data_root", "load_data",
    "mix_inputs", "mixup_cross_entropy", "model_names", "option_names", "register_dataset",
    "register_model", "train", "training_loss",
]
