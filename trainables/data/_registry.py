"""The dataset registry and ``load_data``: names to loaders, below the loader modules that fill it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch

from ..catalogue import DATASETS
from ..errors import DatasetError
from ._checks import check_splits, standard_layout
from ._common import UNREADABLE, unreadable
from ._splits import SPLIT_SEED, Source, Splits

Loader = Callable[[Source], Splits]
register_dataset = DATASETS.register
dataset_names = DATASETS.names
# datasets read from disk batch by batch (trainables.data.streaming), never loaded whole
STREAMED = ("imagefolder_stream",)


def default_data_root() -> Path:
    if os.environ.get("MIXUP_TUNE_DATA"):
        return Path(os.environ["MIXUP_TUNE_DATA"]).expanduser()
    shared = Path(__file__).resolve().parents[3] / "shared" / "datasets"
    return shared if shared.is_dir() else Path("data").resolve()


def cache_dir(data_root: Path) -> Path:
    if os.environ.get("MIXUP_TUNE_CACHE"):
        return Path(os.environ["MIXUP_TUNE_CACHE"]).expanduser()
    if data_root.is_dir() and os.access(data_root, os.W_OK):
        return data_root / ".mixup_tune_cache"
    return Path.home() / ".cache" / "mixup_tune"


def load_data(
    dataset: str,
    data_root: str | Path | None = None,
    data_path: str | Path | None = None,
    train_subset: int | None = None,
    val_fraction: float = 0.0,
    download: bool = False,
    label_column: str | None = None,
    split_column: str | None = None,
    test_subset: int | None = None,
) -> Splits:
    """Load a dataset by name, in the standard layout and checked (``trainables.data._checks``).

    Raises DatasetError, one line, naming the dataset and the path expected when
    it is missing, the file that cannot be read, or what is wrong with its contents.
    """
    if dataset not in DATASETS:
        raise DatasetError(DATASETS.unknown(dataset))
    root = Path(data_root).expanduser() if data_root else default_data_root()
    path = Path(data_path).expanduser() if data_path else None
    source = Source(root, path, cache_dir(root), download, label_column, split_column)
    try:
        splits = DATASETS[dataset](source)
    except DatasetError:
        raise
    except UNREADABLE as error:
        raise unreadable(dataset, source.data_path or root, error) from error
    splits = standard_layout(splits)
    splits.origin = splits.origin or str(source.data_path or root)
    check_splits(splits, dataset, source.data_path or root)
    generator = torch.Generator().manual_seed(SPLIT_SEED)
    if train_subset is not None and train_subset < len(splits.y_train):
        keep = torch.randperm(len(splits.y_train), generator=generator)[:train_subset]
        splits.x_train, splits.y_train = splits.x_train[keep], splits.y_train[keep]
    if val_fraction > 0 and splits.x_val is not None:
        raise DatasetError(f"dataset {dataset!r}: its file gives a validation split; leave val_fraction at 0")
    if val_fraction > 0:
        order = torch.randperm(len(splits.y_train), generator=generator)
        n_val = max(1, int(round(val_fraction * len(order))))
        val, train = order[:n_val], order[n_val:]
        splits.x_val, splits.y_val = splits.x_train[val], splits.y_train[val]
        splits.x_train, splits.y_train = splits.x_train[train], splits.y_train[train]
    if test_subset is not None and test_subset < len(splits.y_test):
        # a generator of its own: the training subset and the validation split stay as they were
        keep = torch.randperm(len(splits.y_test), generator=torch.Generator().manual_seed(SPLIT_SEED + 1))
        splits.x_test, splits.y_test = splits.x_test[keep[:test_subset]], splits.y_test[keep[:test_subset]]
    return splits
