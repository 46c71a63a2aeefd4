"""CutMix (Yun et al., ICCV 2019): a box of the partner pasted into each image, its labels weighted by area.

The box's sides are sqrt(1 - lambda) times the image's, lambda ~ Beta(alpha, alpha), centred at a uniform
pixel and clipped at the borders; the label weight is then corrected to the area left, as timm's
``correct_lam`` does. One box per batch (the authors' code), or one per image with ``lambda_per: sample``.
Held equal to torchvision's ``v2.CutMix`` by tests/trainables/test_regularisers.py.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._functional import beta_weights, cutmix_boxes, one_box
from ._protocol import Draws, MixedBatch, MixMethod
from ._registry import register_mix_method


def cutmix_batch(x: Tensor, y: Tensor, draws: Draws, alpha: float, per_sample: bool) -> MixedBatch:
    """Into each image of ``x``, the box of its partner's; also what mixup's ``mix_switch_prob`` switches
    to."""
    n, _, h, w = x.shape
    count = n if per_sample else 1
    lam = beta_weights(draws, alpha, count)
    rows, cols = (torch.randint(side, (count,), generator=draws.torch) for side in (h, w))
    perm = torch.randperm(n, generator=draws.torch).to(x.device, non_blocking=True)
    partner = y[perm]
    if per_sample:
        inside, kept = cutmix_boxes((h, w), lam, rows, cols, x.device)
        return MixedBatch.pair(torch.where(inside[:, None], x[perm], x), y, partner, kept)
    # One box for the batch: the same box as cutmix_boxes, pasted by slicing, in three operations
    # rather than a mask's dozen (on a small model those operations are CutMix's whole cost).
    top, bottom, left, right, weight = one_box((h, w), float(lam[0]), int(rows[0]), int(cols[0]))
    mixed = x.clone()
    mixed[:, :, top:bottom, left:right] = x[perm, :, top:bottom, left:right]
    return MixedBatch.pair(mixed, y, partner, weight)


@register_mix_method
class CutMix(MixMethod):
    name = "cutmix"
    display_name = "CutMix"
    citation = (
        "Yun, Han, Oh, Chun, Choe, Yoo. CutMix: Regularization Strategy to Train Strong Classifiers with "
        "Localizable Features. ICCV 2019"
    )
    needs = frozenset({"images"})
    uses = ("alpha", "lambda_per")
    off = {"alpha": 0.0}

    def mix(self, x: Tensor, y: Tensor, draws: Draws) -> MixedBatch:
        return cutmix_batch(x, y, draws, self.config.alpha, self.config.lambda_per == "sample")
