"""Label corruption as in Zhang et al. (2017), used by the paper's Section 3.4."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


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
