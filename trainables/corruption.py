"""Label corruption as in Zhang et al. (2017), used by the paper's Section 3.4: two protocols.

- ``fraction`` (``corrupt_labels``): exactly round(p * n) examples are chosen and
  relabelled, by a draw seeded per trial (``noise_seed``, by default its seed).
- ``bernoulli`` (``corrupt_labels_bernoulli``): each example is relabelled with
  probability p, as Zhang et al.'s released code does (pluskid/fitting-random-labels:
  numpy's legacy generator seeded with 12345, a uniform draw per example, then
  one uniform label per chosen example); with its fixed seed, every trial of a
  sweep trains on the same corrupted labels.

Either way the new label is uniform over all classes, so it may equal the true one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

SHARED_NOISE_SEED = (
    12345  # Zhang et al.'s: one corruption for every run (the ``bernoulli`` protocol's default noise_seed)
)


@dataclass(frozen=True)
class CorruptedLabels:
    labels: Tensor  # the training labels after corruption
    selected: Tensor  # bool mask: examples that were given a random label
    changed: Tensor  # bool mask: selected examples whose random label differs from the true one

    @property
    def changed_fraction(self) -> float:
        """Fraction of all training labels that are actually wrong (about p * (1 - 1/K))."""
        return float(self.changed.float().mean()) if len(self.changed) else 0.0


def corrupt_labels(labels: Tensor, fraction: float, num_classes: int, seed: int) -> CorruptedLabels:
    """Select round(fraction * n) examples and give each a label drawn uniformly from all classes.

    The draw may equal the true label, so fewer labels change than are selected;
    ``selected`` is the set the paper's "corrupted labels" error is measured on.
    The caller passes training labels only: test labels are never touched.
    """
    gen = torch.Generator().manual_seed(seed)
    n = len(labels)
    count = int(round(fraction * n))
    selected = torch.zeros(n, dtype=torch.bool)
    selected[torch.randperm(n, generator=gen)[:count]] = True
    noisy = labels.clone()
    noisy[selected] = torch.randint(num_classes, (count,), generator=gen, dtype=labels.dtype)
    return CorruptedLabels(labels=noisy, selected=selected, changed=noisy != labels)


def corrupt_labels_bernoulli(
    labels: Tensor, probability: float, num_classes: int, seed: int = SHARED_NOISE_SEED
) -> CorruptedLabels:
    """Relabel each example with probability ``probability``, uniformly over all classes (Zhang et al.'s
    code)."""
    rng = np.random.RandomState(seed)  # the legacy generator, as theirs: the same draws for the same seed
    selected = rng.rand(len(labels)) <= probability
    noisy = labels.clone()
    noisy[torch.from_numpy(selected)] = torch.from_numpy(rng.choice(num_classes, int(selected.sum()))).to(
        labels.dtype
    )
    mask = torch.from_numpy(selected)
    return CorruptedLabels(labels=noisy, selected=mask, changed=noisy != labels)
