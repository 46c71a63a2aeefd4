"""What every loader returns (``Splits``) and where it may look (``Source``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

SPLIT_SEED = 0  # fixes train_subset, the validation split and tabular train/test splits, for every trial


@dataclass
class Splits:
    """Whole dataset splits as tensors, before normalisation."""

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    num_classes: int
    x_val: Tensor | None = None
    y_val: Tensor | None = None
    origin: str = ""  # where the loader read it: a file, a folder, or the data root (dataset lineage)
    label_names: tuple[str, ...] = ()  # each class index's name, where the data named them (csv, parquet)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.x_train.dim() == 4

    def digest(self) -> str:
        """What a trial trains and is tested on, as 16 hex digits: BLAKE2b over every split's shape, dtype
        and values as loaded (after ``train_subset`` and the validation split) and the class count."""
        hashed = hashlib.blake2b(digest_size=8)
        for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
            tensor: Tensor | None = getattr(self, name)
            if tensor is None:
                continue
            flat = tensor.detach().cpu().contiguous().reshape(-1)
            hashed.update(f"{name}{tuple(tensor.shape)}{tensor.dtype};".encode())
            hashed.update(flat.view(torch.uint8).numpy().data)  # the raw bytes, whatever the dtype, uncopied
        hashed.update(f"classes={self.num_classes}".encode())
        return hashed.hexdigest()

    def shapes(self) -> str:
        """``train 1437x1x8x8, test 360x1x8x8`` (float32 features, uint8 images as stored)."""
        parts = [("train", self.x_train), ("val", self.x_val), ("test", self.x_test)]
        text = ", ".join(f"{name} {'x'.join(map(str, x.shape))}" for name, x in parts if x is not None)
        return f"{text} ({str(self.x_train.dtype).removeprefix('torch.')})"


@dataclass(frozen=True)
class Source:
    """Where a loader may look: the data root, a user path, a cache and whether to download."""

    data_root: Path
    data_path: Path | None
    cache: Path
    download: bool
    label_column: str | None = None  # csv and parquet: the labels' column
    split_column: str | None = None  # csv and parquet: the column saying train, test or val per row
