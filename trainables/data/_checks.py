"""What every dataset is made to satisfy before a trial trains on it, whatever loader produced it.

``standard_layout`` gives images one layout: a (N, H, W) array, the way most
array dumps store grayscale images, is a one-channel image (N, 1, H, W), so
that it is normalised per channel like any image. Taken as (N, H*W) features,
it was standardised per pixel, and pixels that are almost always 0 became
features thousands of std wide on test images: the net could memorise noisy
labels that the same images as (N, 1, H, W) do not let it memorise.

``check_splits`` refuses data that would train silently on nonsense: lengths
that disagree, labels outside [0, classes), test classes the training split
never shows, non-finite features, shapes that differ between splits. Each
problem is one ``DatasetError`` line naming the dataset, where it was read
from, and what is wrong.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ..errors import DatasetError

if TYPE_CHECKING:
    from ._splits import Splits

_CHUNK = 8192  # examples per finiteness check: no bool copy of a whole float split


def standard_layout(splits: Splits) -> Splits:
    """(N, H, W) inputs become (N, 1, H, W) one-channel images, in every split; other layouts are kept."""
    if splits.x_train.dim() != 3:
        return splits
    as_image = lambda x: x.unsqueeze(1) if x.dim() == 3 else x
    x_val = None if splits.x_val is None else as_image(splits.x_val)
    return replace(splits, x_train=as_image(splits.x_train), x_test=as_image(splits.x_test), x_val=x_val)


def check_splits(splits: Splits, dataset: str, where: object) -> None:
    """Raise DatasetError, one line, for the first thing that makes these splits unusable."""
    name = f"dataset {dataset!r} ({where})"
    parts: list[tuple[str, Tensor | None, Tensor | None]] = [
        ("train", splits.x_train, splits.y_train),
        ("test", splits.x_test, splits.y_test),
    ]
    if splits.x_val is not None or splits.y_val is not None:
        parts.append(("val", splits.x_val, splits.y_val))
    if splits.num_classes < 2:
        raise DatasetError(f"{name}: needs at least 2 classes; got {splits.num_classes}")
    for split, x, y in parts:
        if x is None or y is None:
            raise DatasetError(f"{name}: x_{split} and y_{split} come together; one of them is missing")
        _check_split(name, split, x, y, splits.num_classes)
        if x.shape[1:] != splits.x_train.shape[1:]:
            raise DatasetError(
                f"{name}: x_{split} has examples of shape {tuple(x.shape[1:])}, x_train of shape "
                f"{tuple(splits.x_train.shape[1:])}"
            )
    unseen = sorted(set(torch.unique(splits.y_test).tolist()) - set(torch.unique(splits.y_train).tolist()))
    if unseen:
        raise DatasetError(
            f"{name}: y_test holds classes that y_train never does ({_listed(unseen)}); no model can learn "
            "them"
        )


def _check_split(name: str, split: str, x: Tensor, y: Tensor, num_classes: int) -> None:
    if x.dim() not in (2, 4):
        raise DatasetError(
            f"{name}: x_{split} has shape {tuple(x.shape)}; expected (N, features), (N, H, W) or (N, C, H, W)"
        )
    if x.dtype.is_complex or not (
        x.dtype.is_floating_point or x.dtype == torch.uint8 or x.dtype in _INTEGERS or x.dtype == torch.bool
    ):
        raise DatasetError(
            f"{name}: x_{split} has dtype {x.dtype}; expected numbers (uint8 images, or integer or float "
            "values)"
        )
    if y.dim() != 1 or y.dtype not in _INTEGERS:
        raise DatasetError(
            f"{name}: y_{split} must be one integer label per example; got shape {tuple(y.shape)}, dtype "
            f"{y.dtype}"
        )
    if len(x) != len(y):
        raise DatasetError(f"{name}: x_{split} has {len(x)} examples but y_{split} has {len(y)} labels")
    if len(y) == 0:
        raise DatasetError(f"{name}: the {split} split is empty")
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= num_classes:
        bad = low if low < 0 else high
        raise DatasetError(
            f"{name}: y_{split} holds the label {bad}; labels must be integers in [0, {num_classes})"
        )
    if x.dtype.is_floating_point:
        for start in range(0, len(x), _CHUNK):
            finite = torch.isfinite(x[start : start + _CHUNK])
            if not bool(finite.all()):
                row = start + int((~finite).flatten(1).any(1).nonzero()[0])
                raise DatasetError(
                    f"{name}: x_{split} holds NaN or infinite values (first in example {row}); fill or drop "
                    "them first"
                )


_INTEGERS = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)


def _listed(values: list[int], limit: int = 5) -> str:
    return ", ".join(map(str, values[:limit])) + (
        f", ... ({len(values)} in all)" if len(values) > limit else ""
    )


__all__ = ["check_splits", "standard_layout"]
