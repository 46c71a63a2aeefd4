"""A dataset, registered by name: a loader of ``Source`` (where to look) giving ``Splits`` (tensors)."""

import numpy as np
import torch

from trainables import Splits, register_dataset


@register_dataset("example_blobs")
def example_blobs(source):
    """A blob on noisy 16x16 images, its colour the class (red, green, blue, magenta); 256 to train, 128 to
    test; no file needed."""
    rng = np.random.default_rng(0)  # a fixed dataset: the same for every trial
    labels = rng.integers(0, 4, 384)
    rows, cols = np.mgrid[:16, :16]
    images = np.zeros((384, 3, 16, 16), dtype=np.uint8)
    for i, label in enumerate(labels):
        cy, cx = rng.integers(4, 12, 2)
        blob = ((rows - cy) ** 2 + (cols - cx) ** 2 < 12).astype(np.uint8)
        images[i] = rng.integers(0, 120, (3, 16, 16), dtype=np.uint8)  # noise, then the blob on top
        images[i, label % 3] += (90 * blob).astype(np.uint8)
        if label == 3:
            images[i, 2] += (90 * blob).astype(np.uint8)  # red and blue: magenta
    x, y = torch.from_numpy(images), torch.from_numpy(labels)
    return Splits(x[:256], y[:256], x[256:], y[256:], num_classes=4, origin="mixup_example_plugins.blobs")
