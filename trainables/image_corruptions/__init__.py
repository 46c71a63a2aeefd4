"""CIFAR-10-C's image corruptions (Hendrycks and Dietterich, ICLR 2019), regenerated deterministically.

    from trainables.image_corruptions import corrupt, corrupted, names
    foggy = corrupt(images, "fog", 3)                      # uint8 (N, C, H, W) in, same out
    foggy = corrupted(images, "fog", 3, key=digest)        # the same, stored once under the cache

The formulas and the CIFAR-10 severity constants are those of the authors' generator,
``ImageNet-C/create_c/make_cifar_c.py`` in github.com/hendrycks/robustness at commit
8190fe329f5f072a06e3a2aea02bb5dda69aed9f (2022-08-24), checked against
``ImageNet-C/imagenet_c/imagenet_c/corruptions.py`` there. They are re-written in numpy, scipy and PIL:
scikit-image, OpenCV and ImageMagick calls are re-stated from their sources (see each module), and what
could not be matched exactly is in ``DEVIATIONS``; frost is in ``LEFT_OUT``.

Every draw for image i comes from ``Generator(PCG64(SeedSequence([CORRUPTION_SEED, corruption index, severity,
indices[i]])))``, the corruption index being its place among the fifteen in the authors' order. The published
CIFAR-10-C was drawn from numpy's global generator, so no image here equals its published counterpart except
for the corruptions that draw nothing: results on this set are "regenerated", never the published set's.
``read_cifar10c`` reads the published files.
"""

from __future__ import annotations

from ._apply import BENCHMARK, DEVIATIONS, LEFT_OUT, SEVERITIES, corrupt, names
from ._cache import FORMAT_VERSION, cache_path, corrupted, default_cache_dir
from ._common import CORRUPTION_SEED
from ._official import OFFICIAL, read_cifar10c

__all__ = [
    "BENCHMARK",
    "CORRUPTION_SEED",
    "DEVIATIONS",
    "FORMAT_VERSION",
    "LEFT_OUT",
    "OFFICIAL",
    "SEVERITIES",
    "cache_path",
    "corrupt",
    "corrupted",
    "default_cache_dir",
    "names",
    "read_cifar10c",
]
