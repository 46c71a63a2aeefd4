"""A user's arrays: the ``npz`` dataset."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DatasetError
from ._common import missing, unreadable
from ._splits import Source, Splits


def _npz(source: Source) -> Splits:
    """A user's arrays: x_train, y_train, x_test, y_test in one .npz file.

    Features are numbers (uint8 images stay uint8, anything else becomes
    float32); labels are integers, or floats with integral values.
    """
    path = source.data_path
    if path is None or not path.is_file():
        raise missing("npz", f"an .npz file at data_path (got {path})")
    try:
        with np.load(path) as arrays:  # lazily read members: a truncated one fails here, inside the guard
            x_train, y_train, x_test, y_test = (arrays[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    except KeyError as error:
        raise DatasetError(
            f"dataset 'npz': {path} must hold x_train, y_train, x_test, y_test (missing {error})"
        ) from error
    except (AttributeError, TypeError, IndexError) as error:  # np.load gave one array (.npy), not an archive
        raise DatasetError(
            f"dataset 'npz': {path} is not an .npz archive of x_train, y_train, x_test, y_test"
        ) from error
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise unreadable("npz", path, error) from error
    return Splits(
        _npz_features(path, "x_train", x_train),
        _npz_labels(path, "y_train", y_train),
        _npz_features(path, "x_test", x_test),
        _npz_labels(path, "y_test", y_test),
        int(max(y_train.max(initial=0), y_test.max(initial=0))) + 1,
    )


def _npz_features(path: Path, key: str, x: np.ndarray) -> Tensor:
    if x.dtype.kind not in "biuf":
        raise DatasetError(
            f"dataset 'npz' ({path}): {key} has dtype {x.dtype}; expected numbers (uint8 images, or integer "
            "or float values)"
        )
    return torch.from_numpy(x if x.dtype == np.uint8 else x.astype(np.float32))


def _npz_labels(path: Path, key: str, y: np.ndarray) -> Tensor:
    if y.dtype.kind not in "biuf" or (y.dtype.kind == "f" and not np.array_equal(y, np.round(y))):
        raise DatasetError(
            f"dataset 'npz' ({path}): {key} must hold integer class labels; got dtype {y.dtype}"
            + (" with fractional values" if y.dtype.kind == "f" else "")
        )
    return torch.from_numpy(y.astype(np.int64))
