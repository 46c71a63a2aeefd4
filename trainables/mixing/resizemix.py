"""ResizeMix (Qin, Fang, Zhu, Liu, Bai, Xiao, Wang, 2020): the whole partner image, shrunk, pasted into
each image, so that the pasted part holds the partner's object and its label.

One draw per batch, as in OpenMixup's code: tau ~ Uniform(``scope``), the partner batch resized to
int(tau * h) x int(tau * w) (``interpolation``: nearest, OpenMixup's default, or bilinear) and pasted at a
uniformly random position where it fits whole; the partner's label weight is the pasted area over the
image's (about tau ** 2). No alpha: tau's range is the method's only strength.

Where ours differs from OpenMixup's ``resizemix``: it draws the box's centre uniformly over the image and
clips the box at the border, then resizes the partner into the clipped box (squeezing it); ours places the
box where it fits, so the whole partner is pasted at its scale, as the paper describes. (mmpretrain's
``ResizeMix`` draws the box from a Beta lambda instead; not followed.)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ._functional import permutation
from ._protocol import Draws, MixedBatch, MixMethod, Option
from ._registry import register_mix_method


def resized_box(draws: Draws, size: tuple[int, int], scope: tuple[float, float]) -> tuple[int, int, int, int]:
    """tau ~ Uniform(scope), then a box of int(tau * h) x int(tau * w) at a uniform position where it fits:
    (top, left, height, width)."""
    h, w = size
    tau = float(draws.numpy.uniform(scope[0], scope[1]))
    height, width = int(tau * h), int(tau * w)
    top = int(torch.randint(h - height + 1, (), generator=draws.torch))
    left = int(torch.randint(w - width + 1, (), generator=draws.torch))
    return top, left, height, width


def paste_resized(x: Tensor, partner: Tensor, box: tuple[int, int, int, int], interpolation: str) -> Tensor:
    """``x`` with ``partner`` resized into ``box`` (top, left, height, width)."""
    top, left, height, width = box
    mixed = x.clone()
    if height and width:
        small = F.interpolate(
            partner,
            size=(height, width),
            mode=interpolation,
            align_corners=False if interpolation == "bilinear" else None,
        )
        mixed[:, :, top : top + height, left : left + width] = small
    return mixed


def resizemix_batch(
    x: Tensor, y: Tensor, draws: Draws, scope: tuple[float, float], interpolation: str
) -> MixedBatch:
    """One ResizeMix batch: the draws in the order tau, position, permutation."""
    h, w = x.shape[-2], x.shape[-1]
    box = resized_box(draws, (h, w), scope)
    perm = permutation(draws, len(x)).to(x.device, non_blocking=True)
    mixed = paste_resized(x, x[perm], box, interpolation)
    return MixedBatch.pair(mixed, y, y[perm], 1 - box[2] * box[3] / (h * w))


@register_mix_method
class ResizeMix(MixMethod):
    name = "resizemix"
    display_name = "ResizeMix"
    citation = (
        "Qin, Fang, Zhu, Liu, Bai, Xiao, Wang. ResizeMix: Mixing Data with Preserved Object Information and "
        "True Labels. arXiv:2012.11101, 2020"
    )
    needs = frozenset({"images"})
    off = {"scope": (0.0, 0.0)}  # tau 0: nothing pasted
    options = {
        "scope": Option(
            (0.1, 0.8),
            low=0.0,
            high=1.0,
            ordered=True,
            doc="tau's range: the pasted partner's side over the image's",
        ),
        "interpolation": Option("nearest", choices=("nearest", "bilinear"), doc="how the partner is shrunk"),
    }

    def mix(self, x: Tensor, y: Tensor, draws: Draws) -> MixedBatch:
        values: Mapping[str, Any] = self.options  # the trial's values (the class declares Options)
        return resizemix_batch(x, y, draws, values["scope"], values["interpolation"])
