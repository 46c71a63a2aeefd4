"""RegMixup (Pinto, Yang, Lim, Torr, Dokania, NeurIPS 2022): mixup as a regulariser beside the clean loss,
not instead of it.

As the authors' code (FrancescoPinto/RegMixup) trains: lambda ~ Beta(alpha, alpha) once per batch, partners
a random permutation, and the clean batch and its mixup go through the model as one batch of 2N (so
batch normalisation sees both halves together). The loss is the mean over those 2N rows of the mixed
cross-entropy, the clean rows' targets being their own labels: 0.5 * (CE(clean) + mixup-CE(mixed)). The
paper writes it as the sum CE + eta * mixup-CE with eta = 1, twice that; the code's half scale is kept,
as the published numbers were made with it (with SGD it halves the step, but not the weight decay). The
authors use a large alpha, 20 on CIFAR-10 and 10 on CIFAR-100, so that lambda is near 0.5. Twice the
forward and backward work of ERM per batch.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._protocol import Draws, MixedBatch, MixMethod
from ._registry import register_mix_method
from .mixup import mixup_batch


def regmixup_batch(x: Tensor, y: Tensor, draws: Draws, alpha: float) -> MixedBatch:
    """The clean batch, then its mixup (one lambda, then a permutation): 2N inputs, weighted targets."""
    mixed = mixup_batch(x, y, draws, alpha, per_sample=False)
    partner = mixed.labels[1]
    return MixedBatch.pair(
        torch.cat([x, mixed.inputs]), torch.cat([y, y]), torch.cat([y, partner]), mixed.weights
    )


@register_mix_method
class RegMixup(MixMethod):
    name = "regmixup"
    display_name = "RegMixup"
    citation = (
        "Pinto, Yang, Lim, Torr, Dokania. Using Mixup as a Regularizer Can Surprisingly Improve Accuracy and "
        "Out-of-Distribution Robustness. NeurIPS 2022"
    )
    uses = ("alpha",)
    off = {"alpha": 0.0}

    def mix(self, x: Tensor, y: Tensor, draws: Draws) -> MixedBatch:
        return regmixup_batch(x, y, draws, self.config.alpha)
