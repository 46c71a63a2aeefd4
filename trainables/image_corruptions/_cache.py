"""``corrupted``: ``corrupt`` once, then the ``.npy`` file, written atomically under the cache directory."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ._apply import check_images, check_indices, check_name, check_severity, corrupt
from ._common import U8

FORMAT_VERSION = 1  # raise when any corruption's output changes: old files are then simply not found
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def default_cache_dir() -> Path:
    """``$MIXUP_TUNE_CACHE/corruptions``, else ``~/.cache/mixup_tune/corruptions`` (the data cache's)."""
    root = os.environ.get("MIXUP_TUNE_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "mixup_tune"
    return base / "corruptions"


def cache_path(cache_dir: Path, key: str, name: str, severity: int, indices: npt.NDArray[np.int64]) -> Path:
    """The file for these images (``key``), corruption, severity and positions, in this format version."""
    digest = hashlib.sha256(indices.astype("<i8").tobytes()).hexdigest()[:16]
    return cache_dir / f"{key}-{name}-s{severity}-n{len(indices)}-{digest}-v{FORMAT_VERSION}.npy"


def _write_atomically(path: Path, array: U8) -> None:
    """Into a temporary file beside ``path``, flushed to disk, then renamed over it: a reader sees the whole
    file or none, and a crash mid-write leaves at most a stray ``.tmp`` file, never a short ``.npy``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.save(file, array)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read(path: Path) -> npt.NDArray[np.generic] | None:
    """The stored array, or None when there is none. A file that does not read as ``.npy`` (which this module
    never leaves: someone else wrote or damaged it) counts as none and is written again."""
    if not path.is_file():
        return None
    try:
        stored: npt.NDArray[np.generic] = np.load(path)
    except (OSError, ValueError, EOFError):
        return None
    return stored


def corrupted(
    images: U8,
    name: str,
    severity: int,
    *,
    key: str,
    cache_dir: Path | None = None,
    indices: npt.ArrayLike | None = None,
    workers: int = 1,
) -> U8:
    """``corrupt(images, name, severity, indices=indices, workers=workers)``, stored on first use and read
    back after. ``key`` names the images (the caller passes its dataset's digest): the file is keyed by it,
    the corruption, the severity, a hash of the positions and ``FORMAT_VERSION``, never by the pixels."""
    name = check_name(name)
    severity = check_severity(severity)
    images = check_images(images)
    positions = check_indices(indices, len(images))
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(
            f"key must be 1 to 128 letters, digits, '.', '_' or '-' (a dataset digest), not {key!r}"
        )
    path = cache_path(
        cache_dir if cache_dir is not None else default_cache_dir(), key, name, severity, positions
    )
    stored = _read(path)
    if stored is not None:
        if stored.dtype != np.uint8 or stored.shape != images.shape:
            raise ValueError(
                f"{path} holds {stored.dtype} {stored.shape}, not uint8 {images.shape}: is key {key!r} "
                "really these images' digest?"
            )
        return stored.astype(np.uint8, copy=False)
    out = corrupt(images, name, severity, indices=positions, workers=workers)
    _write_atomically(path, out)
    return out
