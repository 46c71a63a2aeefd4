"""Datasets by name, loaded into tensors once and cached: ``load_data(name, ...)``.

Each loader returns whole splits as tensors: images as uint8 (N, C, H, W),
tabular data as float32 (N, D). Training keeps them on the device and
normalises per batch, so there is no DataLoader and no per-sample Python in
the training loop. ImageNet-sized trees are the exception: ``imagefolder_stream``
(``streaming``) is read batch by batch.

Files are looked for under a data root: the ``data_root`` option, else
``$MIXUP_TUNE_DATA``, else ``../shared/datasets`` beside this repository, else
``./data``. Decoded tensors are cached under ``$MIXUP_TUNE_CACHE``, else
``<data root>/.mixup_tune_cache`` when the root is writable, else
``~/.cache/mixup_tune``.

The built-in datasets are declared by name in ``trainables.catalogue`` and their loader module is
imported on first use; a user's own dataset registers itself (``register_dataset``). The registry
sits below the loaders (``_registry``), so no loader imports this package.
"""

from ._common import CACHE_VERSION
from ._registry import (
    DATASETS,
    STREAMED,
    cache_dir,
    dataset_names,
    default_data_root,
    load_data,
    register_dataset,
)
from ._splits import SPLIT_SEED, Source, Splits

__all__ = [
    "CACHE_VERSION",
    "DATASETS",
    "SPLIT_SEED",
    "STREAMED",
    "Source",
    "Splits",
    "cache_dir",
    "dataset_names",
    "default_data_root",
    "load_data",
    "register_dataset",
]
