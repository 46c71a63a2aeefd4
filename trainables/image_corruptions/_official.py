"""Reading the published CIFAR-10-C files (Hendrycks and Dietterich, zenodo.org/record/2535967)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt

from ._apply import BENCHMARK, check_severity
from ._common import U8

# The published set's files: the fifteen benchmark corruptions and the four held out for validation.
OFFICIAL = (*BENCHMARK, "speckle_noise", "gaussian_blur", "spatter", "saturate")


def read_cifar10c(directory: str | Path, name: str, severity: int) -> tuple[U8, npt.NDArray[np.int64]]:
    """One severity of one published corruption: images ``(n, 3, 32, 32)`` uint8 and labels int64.

    ``<directory>/<name>.npy`` holds ``(5 n, 32, 32, 3)`` uint8, severities 1 to 5 in blocks of n (10,000 in
    the published files), and ``labels.npy`` the 5 n labels. Only the block asked for is read (memory-mapped).
    """
    if name not in OFFICIAL:
        raise ValueError(f"unknown CIFAR-10-C file {name!r}; choose one of {', '.join(OFFICIAL)}")
    severity = check_severity(severity)
    folder = Path(directory)
    images_path, labels_path = folder / f"{name}.npy", folder / "labels.npy"
    for path in (images_path, labels_path):
        if not path.is_file():
            raise FileNotFoundError(f"CIFAR-10-C file not found: {path}")
    images = np.load(images_path, mmap_mode="r")
    labels = np.load(labels_path, mmap_mode="r")
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) == 0 or len(labels) % 5:
        raise ValueError(f"{labels_path}: expected 5 n integer labels, found {labels.dtype} {labels.shape}")
    if images.dtype != np.uint8 or images.shape != (len(labels), 32, 32, 3):
        raise ValueError(
            f"{images_path}: expected uint8 {(len(labels), 32, 32, 3)} to match labels.npy, "
            f"found {images.dtype} {images.shape}"
        )
    block = len(labels) // 5
    rows = slice((severity - 1) * block, severity * block)
    return (
        np.ascontiguousarray(images[rows].transpose(0, 3, 1, 2)),
        np.asarray(labels[rows], dtype=np.int64),
    )
