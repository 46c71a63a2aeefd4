"""What the corruptions share: the seeding rule, the uint8 cast, and re-statements of the library calls that
the authors' ``make_cifar_c.py`` makes into scikit-image and ImageMagick (neither is a dependency here).

Images travel channels-last here, ``(n, H, W, C)``, as the authors' code holds one image (``H, W, 3``): the
draws are then made in the authors' shapes and order, so each formula reads as theirs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
Floats = npt.NDArray[np.floating[Any]]
Generators = Sequence[np.random.Generator]

CORRUPTION_SEED = (
    20190506  # ICLR 2019's first day: any fixed number would do; changing it changes every image
)


def generator(corruption_index: int, severity: int, image_index: int) -> np.random.Generator:
    """The one source of draws for one image at one corruption and severity. Keyed by the image's position in
    the full split, so a subset, a chunk in another process, or another order draws the same numbers."""
    seed = np.random.SeedSequence([CORRUPTION_SEED, corruption_index, severity, image_index])
    return np.random.Generator(np.random.PCG64(seed))


def truncate_to_uint8(x: Floats) -> U8:
    """The authors' last step, ``np.uint8(corruption(img))``: a C cast, which truncates toward zero. Every
    caller has clipped to [0, 255] first, so this is floor, never wrap-around."""
    return x.astype(np.uint8)


def skimage_gaussian(x: Floats, sigma: float, *, mode: str = "nearest", truncate: float = 4.0) -> Floats:
    """``skimage.filters.gaussian`` over a batch: a Gaussian over the two spatial axes (1 and 2) only.

    scikit-image's ``gaussian(image, sigma, multichannel=True)`` is ``scipy.ndimage.gaussian_filter`` with
    sigma 0 on the channel axis, ``mode='nearest'`` and ``truncate=4.0`` by default
    (skimage/filters/_gaussian.py, 0.14 to 0.18); scipy skips an axis whose sigma is 0, so the batch axis and
    the channels stay apart and each image is filtered exactly as it would be alone.
    """
    sigmas = [0.0] * x.ndim
    sigmas[1] = sigmas[2] = sigma
    out: Floats = ndimage.gaussian_filter(x, sigmas, mode=mode, truncate=truncate)
    return out


def clipped_zoom(x: Floats, zoom: float) -> Floats:
    """The authors' ``clipped_zoom`` over a batch ``(n, H, W, C)``: crop the centre, enlarge it by ``zoom``
    with linear interpolation (``scipy.ndimage.zoom``, order 1), trim back to ``H x W``.

    The authors' version takes the height for both sides of a square image; here each side uses its own
    size, which is the same thing on a square. Interpolation is point by point, so the batch changes nothing.
    """
    n, h, w, c = x.shape
    ch, cw = int(np.ceil(h / zoom)), int(np.ceil(w / zoom))
    if (ch, cw) == (h, w) and (round(h * zoom), round(w * zoom)) == (h, w):
        # scipy maps output pixel k to input k (h - 1) / (h - 1): weights 1 and 0, the image itself, exactly.
        return x.copy()
    top, left = (h - ch) // 2, (w - cw) // 2
    # Channels folded into the batch: a 3-D zoom weighs 8 corners, not the 16 of a 4-D one, for the same sums
    # (the folded axes' weights are exactly 1 and 0).
    crop = x[:, top : top + ch, left : left + cw].transpose(0, 3, 1, 2).reshape(n * c, ch, cw)
    zoomed = ndimage.zoom(crop, (1, zoom, zoom), order=1)
    zoomed = zoomed.reshape(n, c, *zoomed.shape[1:]).transpose(0, 2, 3, 1)
    trim_top, trim_left = (zoomed.shape[1] - h) // 2, (zoomed.shape[2] - w) // 2
    out: Floats = zoomed[:, trim_top : trim_top + h, trim_left : trim_left + w]
    return out


def _magick_kernel(radius: float, sigma: float) -> list[float]:
    """ImageMagick's motion-blur weights: ``2 * ceil(radius) + 1`` taps of a one-sided Gaussian, tap i
    weighing exp(-i^2 / 2 sigma^2), normalised to sum 1 (GetOptimalKernelWidth1D and GetMotionBlurKernel in
    MagickCore/effect.c and gem.c; the same in ImageMagick 6 and 7)."""
    width = int(2.0 * math.ceil(radius) + 1.0)
    taps = [
        math.exp(-(i * i) / (2.0 * sigma * sigma)) / (math.sqrt(2.0 * math.pi) * sigma) for i in range(width)
    ]
    total = 0.0
    for tap in taps:  # summed in ImageMagick's order, so the rounding is its own
        total += tap
    return [tap / total for tap in taps]


def magick_motion_blur(image: U8, radius: float, sigma: float, angle: float) -> U8:
    """``MagickMotionBlurImage(wand, radius, sigma, angle)`` on one 8-bit image ``(H, W, C)``, as the authors
    call it through Wand, re-stated in numpy.

    Tap i samples the pixel ``i`` steps along the angle, rounded to the grid: column offset
    ``ceil(i cos(angle) - 0.5)``, row offset ``ceil(i sin(angle) - 0.5)`` (rows grow downwards), so the blur
    trails on one side only. Pixels beyond the border repeat the edge (ImageMagick's default virtual pixels).
    The weighted sum is rounded to the nearest level, as writing the 8-bit PNG the authors read back does.
    """
    kernel = _magick_kernel(radius, sigma)
    theta = math.pi * angle / 180.0
    point_x, point_y = len(kernel) * math.sin(theta), len(kernel) * math.cos(theta)
    length = math.hypot(point_x, point_y)
    h, w = image.shape[0], image.shape[1]
    rows, cols = np.arange(h), np.arange(w)
    source = image.astype(np.float64)
    total = np.zeros(source.shape, dtype=np.float64)
    for i, weight in enumerate(kernel):
        dx = math.ceil(i * point_y / length - 0.5)
        dy = math.ceil(i * point_x / length - 0.5)
        shifted = source[np.clip(rows + dy, 0, h - 1)][:, np.clip(cols + dx, 0, w - 1)]
        total += weight * shifted
    return np.clip(np.floor(total + 0.5), 0, 255).astype(np.uint8)
