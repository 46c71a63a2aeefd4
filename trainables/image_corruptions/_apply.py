"""``corrupt``: the checks, the table of corruptions, one generator per image, the optional process pool."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import repeat

import numpy as np
import numpy.typing as npt

from . import _blur, _digital, _noise, _weather
from ._common import U8, Generators, generator

Corruption = Callable[[U8, int, Generators], U8]
SEVERITIES = (1, 2, 3, 4, 5)
_BATCH = 512  # images per call into a corruption: its float64 intermediates stay near 50 MB whatever N is

# The fifteen benchmark corruptions in the authors' order; a corruption's position is its index in the
# seeding rule, frost's included, so that building frost one day would change no other corruption's draws.
BENCHMARK = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)

LEFT_OUT: dict[str, str] = {
    "frost": "blends in crops of the authors' six frost photographs, which are not available offline",
}

DEVIATIONS: dict[str, str] = {
    "motion_blur": (
        "ImageMagick's MotionBlurImage re-stated in numpy (one-sided Gaussian taps at rounded offsets "
        "along the angle, edge pixels beyond the border, rounded to 8 bits), not ImageMagick itself: not "
        "compared with ImageMagick here, which is not installed"
    ),
    "snow": "its flakes are motion-blurred by the same re-statement of ImageMagick as motion_blur",
    "elastic_transform": (
        "cv2.warpAffine re-stated with exact source coordinates, as OpenCV 5 computes them; OpenCV 3 and 4 "
        "(the authors' of 2018) round them to 1/32 pixel: at most 8 grey levels apart, at sharp edges"
    ),
}


@dataclass(frozen=True)
class _Entry:
    index: int  # position in BENCHMARK: the seeding rule's corruption index
    apply: Corruption
    random: bool  # draws numbers (so needs the images' generators)


_TABLE: dict[str, _Entry] = {
    name: _Entry(BENCHMARK.index(name), apply, random)
    for name, apply, random in (
        ("gaussian_noise", _noise.gaussian_noise, True),
        ("shot_noise", _noise.shot_noise, True),
        ("impulse_noise", _noise.impulse_noise, True),
        ("defocus_blur", _blur.defocus_blur, False),
        ("glass_blur", _blur.glass_blur, True),
        ("motion_blur", _blur.motion_blur, True),
        ("zoom_blur", _blur.zoom_blur, False),
        ("snow", _weather.snow, True),
        ("fog", _weather.fog, True),
        ("brightness", _digital.brightness, False),
        ("contrast", _digital.contrast, False),
        ("elastic_transform", _digital.elastic_transform, True),
        ("pixelate", _digital.pixelate, False),
        ("jpeg_compression", _digital.jpeg_compression, False),
    )
}
assert set(_TABLE) | set(LEFT_OUT) == set(BENCHMARK) and not set(_TABLE) & set(LEFT_OUT)


def names() -> tuple[str, ...]:
    """The corruptions built here, in the authors' order."""
    return tuple(name for name in BENCHMARK if name in _TABLE)


def check_name(name: object) -> str:
    if isinstance(name, str) and name in _TABLE:
        return name
    allowed = ", ".join(names())
    if isinstance(name, str) and name in LEFT_OUT:
        raise ValueError(f"corruption {name!r} is not built here ({LEFT_OUT[name]}); choose one of {allowed}")
    raise ValueError(f"unknown corruption {name!r}; choose one of {allowed}")


def check_severity(severity: object) -> int:
    if isinstance(severity, int | np.integer) and not isinstance(severity, bool) and severity in SEVERITIES:
        return int(severity)
    raise ValueError(f"severity must be one of 1, 2, 3, 4, 5, not {severity!r}")


def check_images(images: object) -> U8:
    if not isinstance(images, np.ndarray):
        raise ValueError(f"images must be a numpy uint8 array (N, C, H, W), not {type(images).__name__}")
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (N, C, H, W), not {images.dtype}")
    if images.ndim != 4 or images.shape[1] not in (1, 3) or min(images.shape[2:]) < 8:
        raise ValueError(
            f"images must have shape (N, C, H, W) with C 1 or 3 and H, W >= 8, not {images.shape}"
        )
    return images


def check_indices(indices: object, count: int) -> npt.NDArray[np.int64]:
    """Each image's position in the full split (0 to N - 1 when ``None``): what its draws are keyed by."""
    if indices is None:
        return np.arange(count, dtype=np.int64)
    array = np.asarray(indices)
    if array.ndim != 1 or array.dtype.kind not in "iu" or len(array) != count:
        raise ValueError(
            f"indices must be a 1-D integer array with one entry per image ({count}), "
            f"not {array.dtype} {array.shape}"
        )
    if count and int(array.min()) < 0:
        raise ValueError(f"indices must be positions in the split, 0 or more, not {int(array.min())}")
    return array.astype(np.int64)


def check_workers(workers: object) -> int:
    if isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1:
        return workers
    raise ValueError(f"workers must be an integer of 1 or more, not {workers!r}")


def run(name: str, severity: int, images: U8, indices: npt.NDArray[np.int64]) -> U8:
    """One batch, channels-last, in this process: a module-level function, so a pool's worker can run it."""
    entry = _TABLE[name]
    parts = []
    for start in range(0, len(images), _BATCH):
        batch, where = images[start : start + _BATCH], indices[start : start + _BATCH]
        rngs = [generator(entry.index, severity, int(i)) for i in where] if entry.random else []
        parts.append(entry.apply(batch, severity, rngs))
    return np.concatenate(parts)


def corrupt(
    images: U8,
    name: str,
    severity: int,
    *,
    indices: npt.ArrayLike | None = None,
    workers: int = 1,
) -> U8:
    """``images`` (uint8, ``(N, C, H, W)``, C 1 or 3) with one corruption at one severity, as uint8 of the
    same shape. Image i's draws come from its own generator, keyed by ``indices[i]`` (its position in the
    full split; ``range(N)`` by default), so any subset, order or number of ``workers`` gives the same bytes.

    With ``workers`` > 1 the batch is split into chunks run in a pool of spawned processes (spawn, not fork:
    forking a process that has started torch's or OpenMP's threads can deadlock). A script calling this
    with workers > 1 needs the usual ``if __name__ == "__main__":`` guard.
    """
    name = check_name(name)
    severity = check_severity(severity)
    images = check_images(images)
    positions = check_indices(indices, len(images))
    workers = check_workers(workers)
    channels_last = np.ascontiguousarray(images.transpose(0, 2, 3, 1))
    if len(images) == 0:
        return images.copy()
    if workers == 1 or len(images) == 1:
        out = run(name, severity, channels_last, positions)
    else:
        # A few chunks per worker evens out the load; chunks change no result, only who computes it.
        pieces = min(len(images), 4 * workers)
        chunks = np.array_split(channels_last, pieces)
        where = np.array_split(positions, pieces)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            out = np.concatenate(list(pool.map(run, repeat(name), repeat(severity), chunks, where)))
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))
