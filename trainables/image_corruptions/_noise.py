"""Gaussian, shot and impulse noise, as ``make_cifar_c.py`` draws them, one generator per image.

Each image's draws have the authors' shape ``(H, W, C)`` and come in their order, so the authors' function
given that image's generator in place of ``np.random`` returns the same floats. Grey images get noise on their
one channel (the authors' call on a grey PIL image would draw ``(H, W)``: as many numbers, in the same order).
"""

from __future__ import annotations

import numpy as np

from ._common import U8, Generators, truncate_to_uint8

# CIFAR-10-C's severity tables (make_cifar_c.py), severity 1 to 5.
GAUSSIAN_NOISE = (0.04, 0.06, 0.08, 0.09, 0.10)  # standard deviation, on [0, 1]
SHOT_NOISE = (500, 250, 100, 75, 50)  # photons per unit intensity: fewer is noisier
IMPULSE_NOISE = (0.01, 0.02, 0.03, 0.05, 0.07)  # fraction of values replaced by 0 or 1


def gaussian_noise(images: U8, severity: int, rngs: Generators) -> U8:
    scale = GAUSSIAN_NOISE[severity - 1]
    x = images / 255.0
    noise = np.stack([rng.normal(size=x.shape[1:], scale=scale) for rng in rngs])
    return truncate_to_uint8(np.clip(x + noise, 0, 1) * 255)


def shot_noise(images: U8, severity: int, rngs: Generators) -> U8:
    photons = SHOT_NOISE[severity - 1]
    x = images / 255.0
    counts = np.stack([rng.poisson(image * photons) for image, rng in zip(x, rngs)])
    return truncate_to_uint8(np.clip(counts / photons, 0, 1) * 255)


def impulse_noise(images: U8, severity: int, rngs: Generators) -> U8:
    """``skimage.util.random_noise(x, mode='s&p', amount=p)``: each value is hit with probability p, then set
    to 1 (salt) or 0 (pepper) with even odds. scikit-image draws two uniform arrays of the image's shape, the
    first for "hit", the second for "salt" (``np.random.choice([True, False], p=[p, 1 - p])`` in the 2018
    releases, ``rng.random(shape) <= p`` later: the same distribution), and this draws them in that order."""
    amount = IMPULSE_NOISE[severity - 1]
    x = images / 255.0
    out = x.copy()
    for image, rng in zip(out, rngs):
        hit = rng.random(image.shape) < amount
        salt = rng.random(image.shape) < 0.5
        image[hit & salt] = 1.0
        image[hit & ~salt] = 0.0
    return truncate_to_uint8(np.clip(out, 0, 1) * 255)
