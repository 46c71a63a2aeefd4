"""Brightness, contrast, elastic transform, pixelate and JPEG compression, as ``make_cifar_c.py`` makes them.

Brightness mixes colours (through HSV), so a grey image goes in as three equal channels and one comes back;
contrast and the elastic transform work per channel; pixelate and JPEG hand PIL a grey (``L``) image, as the
authors' PIL calls would on a grey image: JPEG then codes no colour at all.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy import ndimage

from ._common import F32, F64, U8, Generators, skimage_gaussian, truncate_to_uint8

# CIFAR-10-C's severity tables (make_cifar_c.py), severity 1 to 5.
BRIGHTNESS = (0.05, 0.1, 0.15, 0.2, 0.3)  # added to HSV's value
CONTRAST = (0.75, 0.5, 0.4, 0.3, 0.15)  # share of each channel's spread about its mean that is kept
_IMSIZE = 32  # the authors write the elastic table in units of CIFAR's side; kept for every image size
ELASTIC = (
    (_IMSIZE * 0, _IMSIZE * 0, _IMSIZE * 0.08),
    (_IMSIZE * 0.05, _IMSIZE * 0.2, _IMSIZE * 0.07),
    (_IMSIZE * 0.08, _IMSIZE * 0.06, _IMSIZE * 0.06),
    (_IMSIZE * 0.1, _IMSIZE * 0.04, _IMSIZE * 0.05),
    (_IMSIZE * 0.1, _IMSIZE * 0.03, _IMSIZE * 0.03),
)  # displacement scale, displacement smoothing sigma, affine jitter (all in pixels)
PIXELATE = (0.95, 0.9, 0.85, 0.75, 0.65)  # side of the reduced image, as a share of the side
JPEG_QUALITY = (80, 65, 58, 50, 40)


def _rgb_to_hsv(rgb: F64) -> F64:
    """``skimage.color.rgb2hsv`` (0.14 to 0.19) over any leading axes, step for step: the hue's three cases
    are written in its order, so where two channels tie for the maximum the later case wins, as there."""
    value = rgb.max(-1)
    delta = np.ptp(rgb, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        saturation = delta / value
        saturation[delta == 0.0] = 0.0
        hue = np.empty_like(value)
        red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        at = red == value
        hue[at] = ((green - blue) / delta)[at]
        at = green == value
        hue[at] = (2.0 + (blue - red) / delta)[at]
        at = blue == value
        hue[at] = (4.0 + (red - green) / delta)[at]
        hue = (hue / 6.0) % 1.0
        hue[delta == 0.0] = 0.0
    out = np.stack([hue, saturation, value], axis=-1)
    out[np.isnan(out)] = 0
    return out


def _hsv_to_rgb(hsv: F64) -> F64:
    """``skimage.color.hsv2rgb``, step for step."""
    hue, saturation, value = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    sector = np.floor(hue * 6)
    fraction = hue * 6 - sector
    p = value * (1 - saturation)
    q = value * (1 - fraction * saturation)
    t = value * (1 - (1 - fraction) * saturation)
    which = sector.astype(np.uint8) % 6
    cases = ((value, t, p), (q, value, p), (p, value, t), (p, q, value), (t, p, value), (value, p, q))
    return np.stack([np.choose(which, [case[k] for case in cases]) for k in range(3)], axis=-1)


def brightness(images: U8, severity: int, rngs: Generators) -> U8:
    """HSV's value raised by the severity's amount and clipped to 1: each pixel's RGB scaled by new value over
    old (a black pixel becomes grey)."""
    grey = images.shape[-1] == 1
    x = (np.repeat(images, 3, axis=-1) if grey else images) / 255.0
    hsv = _rgb_to_hsv(x)
    hsv[..., 2] = np.clip(hsv[..., 2] + BRIGHTNESS[severity - 1], 0, 1)
    out = truncate_to_uint8(np.clip(_hsv_to_rgb(hsv), 0, 1) * 255)
    return out[..., :1] if grey else out


def contrast(images: U8, severity: int, rngs: Generators) -> U8:
    """Each channel pulled towards its own mean over the image."""
    keep = CONTRAST[severity - 1]
    x = images / 255.0
    # One image at a time, in the authors' layout, so that each mean is summed in the same order whatever
    # else is in the batch (a reduction's order could otherwise depend on the batch's shape).
    means = np.stack([image.mean(axis=(0, 1), keepdims=True) for image in x])
    return truncate_to_uint8(np.clip((x - means) * keep + means, 0, 1) * 255)


def _affine_from_points(source: F32, target: F32) -> F64:
    """``cv2.getAffineTransform``: the 2 x 3 matrix that takes three points (x, y) to three others."""
    system = np.zeros((6, 6), dtype=np.float64)
    system[0::2, 0:2] = source
    system[0::2, 2] = 1
    system[1::2, 3:5] = source
    system[1::2, 5] = 1
    solved = np.linalg.solve(system, target.astype(np.float64).reshape(6))
    return np.asarray(solved, dtype=np.float64).reshape(2, 3)


def _warp_affine(image: F32, matrix: F64) -> F32:
    """``cv2.warpAffine(image, matrix, size, borderMode=cv2.BORDER_REFLECT_101)``, bilinear: each output pixel
    reads the input at the inverse map of its position; reflect-101 is scipy's ``mirror``."""
    inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
    h, w = image.shape[0], image.shape[1]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    src_x = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    src_y = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
    channels = [
        ndimage.map_coordinates(image[..., k], [src_y, src_x], order=1, mode="mirror")
        for k in range(image.shape[-1])
    ]
    return np.stack(channels, axis=-1)


def _elastic_one(image: U8, severity: int, rng: np.random.Generator) -> U8:
    """The authors' ``elastic_transform`` on one image: a random affine map (three anchor points jittered),
    then a smooth random displacement field, both sampled bilinearly. Their draws, in their order: the
    jitter (3 x 2), then the horizontal field's noise, then the vertical's (H x W each)."""
    scale, smoothing, jitter = ELASTIC[severity - 1]
    x = image.astype(np.float32) / np.float32(255.0)
    shape = x.shape
    centre = np.asarray(shape[:2], dtype=np.float32) // 2
    side = min(shape[:2]) // 3
    anchors = np.array([centre + side, [centre[0] + side, centre[1] - side], centre - side], dtype=np.float32)
    moved = anchors + rng.uniform(-jitter, jitter, size=anchors.shape).astype(np.float32)
    x = _warp_affine(x, _affine_from_points(anchors, moved))
    fields = [rng.uniform(-1, 1, size=shape[:2]) for _ in range(2)]
    dx, dy = (
        (skimage_gaussian(field[None], smoothing, mode="reflect", truncate=3)[0] * scale).astype(np.float32)
        for field in fields
    )
    cols, rows, chans = np.meshgrid(np.arange(shape[1]), np.arange(shape[0]), np.arange(shape[2]))
    where = (rows + dy[..., None]).reshape(-1), (cols + dx[..., None]).reshape(-1), chans.reshape(-1)
    out = ndimage.map_coordinates(x, where, order=1, mode="reflect").reshape(shape)
    return truncate_to_uint8(np.clip(out, 0, 1) * 255)


def elastic_transform(images: U8, severity: int, rngs: Generators) -> U8:
    return np.stack([_elastic_one(image, severity, rng) for image, rng in zip(images, rngs)])


def _pil(image: U8) -> Image.Image:
    return Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)


def _array(picture: Image.Image, channels: int) -> U8:
    out = np.asarray(picture, dtype=np.uint8)
    return out[..., None] if channels == 1 else out


def pixelate(images: U8, severity: int, rngs: Generators) -> U8:
    """Down to the severity's share of each side and back up, both with PIL's box filter."""
    share = PIXELATE[severity - 1]
    h, w, c = images.shape[1:]
    small = (int(w * share), int(h * share))
    return np.stack(
        [
            _array(_pil(image).resize(small, Image.Resampling.BOX).resize((w, h), Image.Resampling.BOX), c)
            for image in images
        ]
    )


def _jpeg_one(image: U8, quality: int) -> U8:
    buffer = io.BytesIO()
    _pil(image).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return _array(decoded.convert("L" if image.shape[-1] == 1 else "RGB"), image.shape[-1])


def jpeg_compression(images: U8, severity: int, rngs: Generators) -> U8:
    """Encoded and decoded by PIL at the severity's quality (PIL's default 4:2:0 chroma subsampling)."""
    quality = JPEG_QUALITY[severity - 1]
    return np.stack([_jpeg_one(image, quality) for image in images])
