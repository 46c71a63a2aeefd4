"""SmoothMix (Lee, Zaheer, Astrid, Lee, CVPR Workshops 2020): CutMix's region with a soft edge, so that
no sharp border gives the network a clue.

x~ = G * x + (1 - G) * x[perm], and the own label's weight is the mean of G over the image (the paper's
lambda = sum G_ij / (H W)). G is a Gaussian fall-off from a centre drawn uniformly over the pixels, with a
spread sigma drawn uniformly from ``sigma`` times the image's side (OpenMixup's range, [0.25, 0.5]):

- ``shape: circle``: G = exp(-(dr^2 / sigma_h^2 + dc^2 / sigma_w^2) / 2), round level sets;
- ``shape: square``: G = exp(-max(|dr| / sigma_h, |dc| / sigma_w)^2 / 2), square level sets.

dr, dc are a pixel's offsets from the centre, sigma_h and sigma_w sigma times the height and the width.
One mask and one permutation per batch, as OpenMixup does.

What was and was not checked: the paper's text was not reachable from here; the blending rule and the label
weight are from its summaries and agree with OpenMixup's mask. OpenMixup implements only the circle, and
gives the mask's mean to the wrong label (G multiplies the partner there); ours gives it to the image G
multiplies. The square's formula above is ours, the circle's with the L-infinity distance in place of the
Euclidean, until the paper's can be confirmed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from ._functional import permutation
from ._protocol import Draws, MixedBatch, MixMethod, Option
from ._registry import register_mix_method


def smooth_mask(draws: Draws, size: tuple[int, int], sigma: tuple[float, float], shape: str) -> Tensor:
    """G, (h, w) float32: the draws in the order sigma, centre row, centre column."""
    h, w = size
    spread = float(draws.numpy.uniform(sigma[0], sigma[1]))
    row = int(torch.randint(h, (), generator=draws.torch))
    col = int(torch.randint(w, (), generator=draws.torch))
    dr = (torch.arange(h, dtype=torch.float64) - row)[:, None] / (spread * h)
    dc = (torch.arange(w, dtype=torch.float64) - col)[None, :] / (spread * w)
    squared = dr**2 + dc**2 if shape == "circle" else torch.maximum(dr.abs(), dc.abs()) ** 2
    return torch.exp(-squared / 2).float()


def smoothmix_batch(x: Tensor, y: Tensor, draws: Draws, sigma: tuple[float, float], shape: str) -> MixedBatch:
    """One SmoothMix batch: the mask's draws, then the permutation."""
    mask = smooth_mask(draws, (x.shape[-2], x.shape[-1]), sigma, shape)
    perm = permutation(draws, len(x)).to(x.device, non_blocking=True)
    mixed = torch.lerp(x[perm], x, mask.to(device=x.device, dtype=x.dtype))
    return MixedBatch.pair(mixed, y, y[perm], float(mask.double().mean()))


@register_mix_method
class SmoothMix(MixMethod):
    name = "smoothmix"
    display_name = "SmoothMix"
    citation = (
        "Lee, Zaheer, Astrid, Lee. SmoothMix: a Simple Yet Effective Data Augmentation to Train Robust "
        "Classifiers. CVPR Workshops 2020"
    )
    needs = frozenset({"images"})
    options = {
        "shape": Option("circle", choices=("circle", "square"), doc="the level sets of the soft region"),
        "sigma": Option(
            (0.25, 0.5),
            low=0.01,
            high=2.0,
            ordered=True,
            doc="the Gaussian's spread, a range over the image's side",
        ),
    }

    def mix(self, x: Tensor, y: Tensor, draws: Draws) -> MixedBatch:
        values: Mapping[str, Any] = self.options  # the trial's values (the class declares Options)
        return smoothmix_batch(x, y, draws, values["sigma"], values["shape"])
