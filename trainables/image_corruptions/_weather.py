"""Snow and fog, as ``make_cifar_c.py`` makes them. (Frost needs the authors' frost photographs, which are not
here: see ``LEFT_OUT``.)

Both mix colours, so a grey image is corrupted as the RGB image with three equal channels and one channel is
taken back: for fog that is the same as working on the one channel; for snow the grey it brightens towards is
then the image itself.
"""

from __future__ import annotations

import numpy as np

from ._common import F32, F64, U8, Generators, clipped_zoom, magick_motion_blur, truncate_to_uint8

# CIFAR-10-C's severity tables (make_cifar_c.py), severity 1 to 5.
SNOW = (
    (0.1, 0.2, 1, 0.6, 8, 3, 0.95),
    (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
    (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
    (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
    (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
)  # flake mean, flake spread, flake zoom, flake threshold, blur radius, blur sigma, share of the image kept
FOG = ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75))  # fog strength, fractal roughness decay


def _grey_rgb(images: U8) -> tuple[U8, bool]:
    """Grey images as three equal channels, and whether to take one back at the end."""
    if images.shape[-1] == 1:
        return np.repeat(images, 3, axis=-1), True
    return images, False


def plasma_fractal(size: int, decay: float, rng: np.random.Generator) -> F64:
    """The authors' ``plasma_fractal``: a diamond-square height map on a ``size x size`` grid (a power of
    two), scaled to [0, 1]. Its draws, ``uniform(-wibble, wibble)`` for the squares then for the two diamond
    sets at each scale, are made in its order."""
    grid = np.empty((size, size), dtype=np.float64)
    grid[0, 0] = 0
    step = size
    wibble = 100.0

    def wibbled_mean(total: F64) -> F64:
        return total / 4 + wibble * rng.uniform(-wibble, wibble, total.shape)

    while step >= 2:
        half = step // 2
        corners = grid[0:size:step, 0:size:step]
        squares = corners + np.roll(corners, shift=-1, axis=0)
        squares += np.roll(squares, shift=-1, axis=1)
        grid[half:size:step, half:size:step] = wibbled_mean(squares)
        centres = grid[half:size:step, half:size:step]
        corners = grid[0:size:step, 0:size:step]
        across = centres + np.roll(centres, 1, axis=0) + (corners + np.roll(corners, -1, axis=1))
        grid[0:size:step, half:size:step] = wibbled_mean(across)
        down = centres + np.roll(centres, 1, axis=1) + (corners + np.roll(corners, -1, axis=0))
        grid[half:size:step, 0:size:step] = wibbled_mean(down)
        step //= 2
        wibble /= decay
    grid -= grid.min()
    out: F64 = grid / grid.max()
    return out


def fog(images: U8, severity: int, rngs: Generators) -> U8:
    """The image brightened by a fractal cloud and rescaled so that its brightest value keeps its place. The
    authors draw a 32 x 32 fractal for CIFAR; other sizes get the next power of two, cropped."""
    strength, decay = FOG[severity - 1]
    h, w = images.shape[1], images.shape[2]
    size = 1 << (max(h, w) - 1).bit_length()  # the next power of two
    x = images / 255.0
    peaks = np.stack([image.max() for image in x])[:, None, None, None]
    clouds = np.stack([plasma_fractal(size, decay, rng)[:h, :w] for rng in rngs])[..., None]
    x += strength * clouds
    return truncate_to_uint8(np.clip(x * peaks / (peaks + strength), 0, 1) * 255)


def _rgb_to_grey(x: F32) -> F32:
    """``cv2.cvtColor(x, cv2.COLOR_RGB2GRAY)`` on float32: 0.299 R + 0.587 G + 0.114 B, in float32, summed
    left to right (OpenCV 5's vector code can differ in the last bit, 6e-8, which moves a level rarely)."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    grey: F32 = x[..., 0] * weights[0] + x[..., 1] * weights[1] + x[..., 2] * weights[2]
    return grey


def _snow_layer(h: int, w: int, severity: int, rng: np.random.Generator) -> U8:
    """One image's flakes as the authors make them: Gaussian noise, zoomed, thresholded, cast to 8 bits (by
    truncation), then motion-blurred along an angle in [-135, -45) degrees (falling, give or take 45)."""
    mean, spread, zoom, threshold, radius, sigma, _ = SNOW[severity - 1]
    flakes = rng.normal(size=(h, w), loc=mean, scale=spread)
    flakes = clipped_zoom(flakes[None, :, :, None], zoom)[0]
    flakes[flakes < threshold] = 0
    layer = (np.clip(flakes, 0, 1) * 255).astype(np.uint8)
    return magick_motion_blur(layer, radius, sigma, rng.uniform(-135, -45))


def snow(images: U8, severity: int, rngs: Generators) -> U8:
    kept = SNOW[severity - 1][6]
    rgb, grey = _grey_rgb(images)
    h, w = rgb.shape[1], rgb.shape[2]
    layers = np.stack([_snow_layer(h, w, severity, rng) for rng in rngs]) / 255.0
    x = rgb.astype(np.float32) / np.float32(255.0)
    lifted = _rgb_to_grey(x)[..., None] * np.float32(1.5) + np.float32(0.5)
    x = np.float32(kept) * x + np.float32(1 - kept) * np.maximum(x, lifted)
    # The flakes land twice: as drawn, and turned by 180 degrees.
    out = truncate_to_uint8(np.clip(x + layers + layers[:, ::-1, ::-1], 0, 1) * 255)
    return out[..., :1] if grey else out
