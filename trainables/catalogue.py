"""The built-in datasets and models: each name with where its code is.

Declared, not registered on import (``Registry.declare``, as gymnasium's ``register(id, entry_point)``):
the names are known here without importing torch, so a sweep's driver checks a config that names them
before anything heavy is imported (torch is 1.3 s of every command on 2 cores), and the code of a
dataset or model is imported when a trial first asks for it. A user's own dataset or model registers
itself instead (``@register_dataset``, ``@register_model``) into the same registries. This is the one
list of the built-ins: a name is added here, beside its code's place, and nowhere else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .registry import Registry

if TYPE_CHECKING:
    from .data._registry import Loader
    from .models._registry import ModelBuilder

DATASETS: Registry[Loader] = Registry("dataset")
MODELS: Registry[ModelBuilder] = Registry("model")

for _name, _entry_point in {
    "abalone": "trainables.data.tabular:_uci_abalone",
    "arcene": "trainables.data.tabular:_uci_arcene",
    "arrhythmia": "trainables.data.tabular:_uci_arrhythmia",
    "cifar10": "trainables.data.images:_cifar10",
    "cifar100": "trainables.data.images:_cifar100",
    "csv": "trainables.data.table_files:_csv",
    "digits": "trainables.data.tabular:_digits",
    "fashion_mnist": "trainables.data.images:_fashion_mnist",
    "htru2": "trainables.data.tabular:_uci_htru2",
    "imagefolder": "trainables.data.images:_imagefolder",
    "imagefolder_stream": "trainables.data.images:_imagefolder_stream",
    "iris": "trainables.data.tabular:_iris",
    "npz": "trainables.data.arrays:_npz",
    "parquet": "trainables.data.table_files:_parquet",
    "phishing": "trainables.data.tabular:_uci_phishing",
    "speech_commands": "trainables.data.speech:_speech_commands",
}.items():
    DATASETS.declare(_name, _entry_point)

for _name, _entry_point in {
    "cnn": "trainables.models.small:_cnn",
    "cnn_narrow": "trainables.models.small:_cnn_narrow",
    "densenet_bc190": "trainables.models.cifar:_densenet_bc190",
    "fast_cifar": "trainables.models.cifar:_fast_cifar",
    "lenet": "trainables.models.speech:_lenet",
    "mlp": "trainables.models.small:_mlp",
    "preact_resnet18": "trainables.models.cifar:_preact_resnet18",
    "preact_resnet18_authors": "trainables.models.cifar:_preact_resnet18_authors",
    "resnet101": "trainables.models.imagenet:_resnet101",
    "resnet18_cifar": "trainables.models.resnet_cifar:_resnet18_cifar",
    "resnet50": "trainables.models.imagenet:_resnet50",
    "resnext101_32x4d": "trainables.models.imagenet:_resnext101_32x4d",
    "resnext101_64x4d": "trainables.models.imagenet:_resnext101_64x4d",
    "vgg11": "trainables.models.speech:_vgg11",
    "wrn28_10": "trainables.models.cifar:_wrn28_10",
}.items():
    MODELS.declare(_name, _entry_point)
