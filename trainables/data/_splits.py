"""What every loader returns (``Splits``) and where it may look (``Source``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def is_image(self) -> bool:
        return self.x_train.dim() == 4


@dataclass(frozen=True)
class Source:
    """Where a loader may look: the data root, a user path, a cache and whether to download."""

    data_root: Path
    data_path: Path | None
    cache: Path
    download: bool
