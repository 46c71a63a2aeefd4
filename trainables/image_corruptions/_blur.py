"""Defocus, glass, motion and zoom blur, as ``make_cifar_c.py`` makes them, in scipy and numpy.

Each works per channel, so a grey image is blurred as one channel; the arithmetic keeps the authors' float
widths (float64, and float32 for zoom blur), since the final cast truncates and a changed last bit can move a
value across a grey level.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ._common import (
    F32,
    U8,
    Generators,
    clipped_zoom,
    magick_motion_blur,
    skimage_gaussian,
    truncate_to_uint8,
)

# CIFAR-10-C's severity tables (make_cifar_c.py), severity 1 to 5.
DEFOCUS_BLUR = ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1))  # disk radius, anti-alias sigma
GLASS_BLUR = ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2))  # sigma, max delta, passes
MOTION_BLUR = ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5))  # ImageMagick radius, sigma
ZOOM_BLUR = (
    np.arange(1, 1.06, 0.01),
    np.arange(1, 1.11, 0.01),
    np.arange(1, 1.16, 0.01),
    np.arange(1, 1.21, 0.01),
    np.arange(1, 1.26, 0.01),
)  # the zoom factors averaged, np.arange's float end points included as the authors had them

# The shuffle below is a gather only because every delta lies in {-1, 0} (randint's upper bound is exclusive).
assert all(delta == 1 for _, delta, _ in GLASS_BLUR)


def _gaussian_kernel_1d(size: int, sigma: float) -> F32:
    """``cv2.getGaussianKernel(size, sigma, CV_32F)`` for sigma > 0: computed in double, stored as float32,
    normalised in float32."""
    offsets = np.arange(size, dtype=np.float64) - (size - 1) * 0.5
    taps = np.exp(-0.5 / (sigma * sigma) * offsets * offsets).astype(np.float32)
    return (taps * (1.0 / float(taps.astype(np.float64).sum()))).astype(np.float32)


def _disk(radius: float, alias_blur: float) -> F32:
    """The authors' ``disk``: an aliased disk of the radius, normalised, smoothed by ``cv2.GaussianBlur`` with
    a 3x3 kernel (5x5 past radius 8), whose border is OpenCV's default, reflect-101 (scipy's ``mirror``)."""
    span = np.arange(-8, 8 + 1) if radius <= 8 else np.arange(-radius, radius + 1)
    size = 3 if radius <= 8 else 5
    xs, ys = np.meshgrid(span, span)
    aliased = np.array((xs**2 + ys**2) <= radius**2, dtype=np.float32)
    aliased /= np.sum(aliased)
    taps = _gaussian_kernel_1d(size, alias_blur)
    across = ndimage.correlate1d(aliased, taps, axis=1, mode="mirror")
    smooth: F32 = ndimage.correlate1d(across, taps, axis=0, mode="mirror")
    # Rows and columns of exact zeros add exact zeros: dropping them (evenly, the kernel is symmetric) keeps
    # the sums and makes the filter several times faster.
    keep = np.flatnonzero(smooth.any(axis=0))
    trim = min(int(keep[0]), smooth.shape[0] - 1 - int(keep[-1]))
    return smooth[trim : smooth.shape[0] - trim, trim : smooth.shape[1] - trim]


def defocus_blur(images: U8, severity: int, rngs: Generators) -> U8:
    """Each channel correlated with the disk (``cv2.filter2D``: centred, reflect-101 border)."""
    radius, alias_blur = DEFOCUS_BLUR[severity - 1]
    kernel = _disk(radius, alias_blur).astype(np.float64)
    blurred = ndimage.correlate(images / 255.0, kernel[None, :, :, None], mode="mirror")
    return truncate_to_uint8(np.clip(blurred, 0, 1) * 255)


def _shuffle_once(image: U8, rng: np.random.Generator) -> U8:
    """One pass of the authors' local shuffle on one image ``(H, W, C)``.

    Their loop visits rows H-1 down to 2 and, in each, columns W-1 down to 2, draws ``(dx, dy)`` with
    ``randint(-1, 1, size=2)`` (so each is -1 or 0), and runs ``x[h, w], x[h', w'] = x[h', w'], x[h, w]``. On
    numpy rows that line is not a swap: the right side holds views, the first assignment overwrites the pixel
    the second view reads, so it copies ``x[h', w']`` into ``x[h, w]`` and leaves ``x[h', w']`` as it was. And
    the pixel copied from, up or left, is one the loop has not visited yet, so it still holds its value from
    before the pass: the pass is one gather from the image as it was. The draws are the loop's, made at once
    in its order (one ``(dx, dy)`` pair per visited pixel, rows then columns, both descending).
    """
    h, w = image.shape[0], image.shape[1]
    draws = rng.integers(-1, 1, size=(h - 2, w - 2, 2))[::-1, ::-1]  # now indexed by (row - 2, column - 2)
    rows = np.arange(2, h)[:, None] + draws[..., 1]
    cols = np.arange(2, w)[None, :] + draws[..., 0]
    out = image.copy()
    out[2:, 2:] = image[rows, cols]
    return out


def glass_blur(images: U8, severity: int, rngs: Generators) -> U8:
    sigma, _, passes = GLASS_BLUR[severity - 1]
    x = truncate_to_uint8(skimage_gaussian(images / 255.0, sigma) * 255)
    shuffled = []
    for image, rng in zip(x, rngs):
        for _ in range(passes):
            image = _shuffle_once(image, rng)
        shuffled.append(image)
    blurred = skimage_gaussian(np.stack(shuffled) / 255.0, sigma)
    return truncate_to_uint8(np.clip(blurred, 0, 1) * 255)


def motion_blur(images: U8, severity: int, rngs: Generators) -> U8:
    """ImageMagick's motion blur along an angle drawn uniformly in [-45, 45) degrees, per image (re-stated in
    ``magick_motion_blur``: an approximation of ImageMagick, see ``DEVIATIONS``)."""
    radius, sigma = MOTION_BLUR[severity - 1]
    angles = [rng.uniform(-45, 45) for rng in rngs]
    return np.stack([magick_motion_blur(image, radius, sigma, angle) for image, angle in zip(images, angles)])


def zoom_blur(images: U8, severity: int, rngs: Generators) -> U8:
    """The mean of the image and its centre zoomed by each factor, in float32 as the authors compute it."""
    factors = ZOOM_BLUR[severity - 1]
    x = (images / 255.0).astype(np.float32)
    out = np.zeros_like(x)
    for factor in factors:
        out += clipped_zoom(x, float(factor))
    mean = (x + out) / (len(factors) + 1)
    return truncate_to_uint8(np.clip(mean, 0, 1) * 255)
