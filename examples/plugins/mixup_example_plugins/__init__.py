"""mixup-tune's example plugins: importing the package registers them all."""

from . import blobs, convnet, resizemix, top2  # noqa: F401  (each registers what it defines)
