"""What the loaders share: the tensor cache, and the one-line errors for missing and unreadable files."""

from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import torch

from ..errors import DatasetError, first_line
from ._splits import Source, Splits

# Part of every cache file's name: bump it when a loader's output changes, so that no cache of the old output
# is read. 2: tabular splits send single-example classes to training (abalone's test set held a ring count
# never trained on);
#    CIFAR-10's pickles are read without torchvision (same tensors).
# 3: Speech Commands folders with validation_list.txt and testing_list.txt are split by those lists.
# 4: Splits gained label_names: a cache file holds every field, and an older version cannot rebuild Splits
#    from a file with a field it lacks (TypeError), so the two must not share a file.
CACHE_VERSION = 4


# What decoding a truncated or corrupt file raises (gzip, tar, PIL, numpy, torch): reported as a DatasetError.
UNREADABLE = (
    OSError,
    EOFError,
    ValueError,
    RuntimeError,
    tarfile.TarError,
    zlib.error,
    zipfile.BadZipFile,
    pickle.UnpicklingError,
)


def unreadable(dataset: str, where: Path, error: BaseException) -> DatasetError:
    """The one line for a file a loader could not read: what it looks like, where another loader reads
    that; else that it looks damaged."""
    kind = file_kind(where)
    if kind is not None and LOADER_OF.get(kind, dataset) != dataset:
        return DatasetError(f"dataset {dataset!r}: {where} looks like {kind}: use dataset: {LOADER_OF[kind]}")
    reason = first_line(error, 160)
    return DatasetError(
        f"dataset {dataset!r}: cannot read {where} ({reason}); the files look corrupt or incomplete: fetch "
        "them again"
    )


# What a file's first bytes say it is, and the loader that reads it.
_MAGIC = (
    (b"PAR1", "a Parquet file"),
    (b"PK\x03\x04", "a zip archive (an .npz file is one)"),
    (b"\x93NUMPY", "a single .npy array (npz needs an .npz archive of x_train, y_train, x_test, y_test)"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG", "a PNG image"),
    (b"\x1f\x8b", "a gzip file"),
)
LOADER_OF = {"a Parquet file": "parquet", "a CSV file": "csv", "a zip archive (an .npz file is one)": "npz"}


def file_kind(path: Path) -> str | None:
    """A file's kind from its first bytes (or, for text, its first line), in words; None if unknown."""
    try:
        with open(path, "rb") as file:
            head = file.read(4096)
    except OSError:
        return None
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    try:
        first = head.decode("utf-8").splitlines()[0] if head else ""
    except UnicodeDecodeError:
        return None
    if first.count(",") >= 1 or first.count(";") >= 1 or first.count("\t") >= 1:
        return "a CSV file"
    return "a text file" if first.isprintable() else None


def cached(source: Source, name: str, origin: Path, build: Callable[[], Splits]) -> Splits:
    """Build once, then reuse the tensors; the write is atomic, so concurrent trials are safe."""
    key = hashlib.sha1(f"{CACHE_VERSION}:{origin.resolve()}".encode()).hexdigest()[:10]
    path = source.cache / f"{name}-{key}.pt"
    if path.exists():
        # Memory-mapped: the trials of one node share the decoded tensors through the page cache.
        loaded = Splits(**torch.load(path, weights_only=True, mmap=True))
        loaded.origin = str(origin.resolve())
        return loaded
    try:
        splits = build()
    except DatasetError:  # already says what is wrong (it is a RuntimeError too)
        raise
    except UNREADABLE as error:
        raise unreadable(name, origin, error) from error
    source.cache.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=source.cache, suffix=".tmp", delete=False) as tmp:
        torch.save(vars(splits), tmp.name)
    os.replace(tmp.name, path)
    splits.origin = str(origin.resolve())
    return splits


def missing(dataset: str, expected: str) -> DatasetError:
    return DatasetError(
        f"dataset {dataset!r}: files not found; expected {expected} (set data_root, $MIXUP_TUNE_DATA, or "
        "download: true)"
    )
