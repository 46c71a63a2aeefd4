"""FMix (Harris, Marcu, Painter, Niranjan, Prügel-Bennett, Hare, 2020): a mask of low-frequency Fourier
noise, binarised to the top lambda of its pixels.

The paper's definition, one mask and one permutation per batch as in the authors' code:

1. complex noise Z, real and imaginary parts i.i.d. N(0, 1), over the (h, w) frequencies of the image;
2. each frequency f (cycles per pixel, sqrt(fy^2 + fx^2)) scaled by 1 / max(f, 1 / max(h, w)) ** decay_power;
3. g = the real part of the inverse FFT, an (h, w) grey image;
4. lambda ~ Beta(alpha, alpha); the round(lambda * h * w) brightest pixels of g are 1, the rest 0; with
   ``max_soft`` > 0 the 2 * int(h * w * min(max_soft, lambda, 1 - lambda)) pixels ranked around that cut
   ramp linearly from 1 to 0 instead (the mask's mean is unchanged);
5. x~ = mask * x + (1 - mask) * x[perm]; the own label's weight is the mask's mean.

Where ours differs from the authors' ``fmix.py`` (ecs-vlc/FMix, also in OpenMixup), on purpose:

- Their code builds the complex spectrum as ``spectrum[:, 0] + 1j * spectrum[:, 1]`` on an array of shape
  (1, h, w // 2 + 1, 2): that indexes the height frequencies, not the real and imaginary parts, so only
  width frequencies 0 and 1 survive and every row of their masks holds at most one segment (their file run
  here: 200 masks of 32 x 32, no row with two segments). Ours is the isotropic spectrum the paper
  describes, so masks here have rounder blobs in both directions.
- Their count of pixels is ceil or floor of lambda * h * w by a coin from Python's global ``random``; ours
  rounds (no global RNG). Their label weight is lambda itself; ours is the mask's mean, which differs from
  it by at most 1 / (2 h w) and is what the pixels hold.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from ._functional import beta_weight, permutation
from ._protocol import Draws, MixedBatch, MixMethod, Option
from ._registry import register_mix_method


def fourier_noise(draws: Draws, size: tuple[int, int]) -> Tensor:
    """Step 1's noise: (2, h, w) standard normals, the real parts then the imaginary parts (float64)."""
    return torch.randn((2, *size), generator=draws.torch, dtype=torch.float64)


def low_frequency_image(noise: Tensor, decay_power: float) -> Tensor:
    """Steps 2 and 3: the grey image (h, w), float64: the real part of the inverse FFT of ``noise``
    (``fourier_noise``'s) scaled by 1 / frequency ** decay_power."""
    scale = _spectrum_scale(noise.shape[-2], noise.shape[-1], decay_power)
    return torch.fft.ifft2(torch.complex(noise[0] * scale, noise[1] * scale)).real


@functools.lru_cache(maxsize=16)
def _spectrum_scale(h: int, w: int, decay_power: float) -> Tensor:
    """1 / max(f, 1 / max(h, w)) ** decay_power over the (h, w) frequencies: once per image size and decay,
    not every batch (read only)."""
    freqs = torch.sqrt(
        torch.fft.fftfreq(h, dtype=torch.float64)[:, None] ** 2
        + torch.fft.fftfreq(w, dtype=torch.float64)[None, :] ** 2
    )
    return 1 / freqs.clamp(min=1 / max(h, w)) ** decay_power


def binarised(grey: Tensor, lam: float, max_soft: float = 0.0) -> Tensor:
    """Step 4: the mask (h, w), float32, 1 on the round(lam * h * w) brightest pixels of ``grey``, with a
    linear ramp of 2 * soft pixels across the cut where ``max_soft`` > 0."""
    total = grey.numel()
    count = round(lam * total)
    soft = int(total * min(max_soft, lam, 1 - lam))
    low, high = max(count - soft, 0), min(count + soft, total)
    ranked = torch.argsort(grey.flatten(), descending=True, stable=True)
    values = torch.zeros(total, dtype=torch.float32)
    values[:low] = 1.0
    if high > low:
        # linspace(1, 0, 2 soft) sums to soft: the ramp adds as much above the cut as it takes below
        values[low:high] = torch.linspace(1.0, 0.0, high - low, dtype=torch.float32)
    mask = torch.empty(total, dtype=torch.float32)
    mask[ranked] = values
    return mask.view(grey.shape)


def fmix_batch(
    x: Tensor, y: Tensor, draws: Draws, alpha: float, decay_power: float, max_soft: float
) -> MixedBatch:
    """One FMix batch: the draws in the order noise, lambda, permutation."""
    size = (x.shape[-2], x.shape[-1])
    grey = low_frequency_image(fourier_noise(draws, size), decay_power)
    mask = binarised(grey, beta_weight(draws, alpha), max_soft)
    perm = permutation(draws, len(x)).to(x.device, non_blocking=True)
    mixed = torch.lerp(x[perm], x, mask.to(device=x.device, dtype=x.dtype))
    return MixedBatch.pair(mixed, y, y[perm], float(mask.mean()))


@register_mix_method
class FMix(MixMethod):
    name = "fmix"
    display_name = "FMix"
    citation = (
        "Harris, Marcu, Painter, Niranjan, Prügel-Bennett, Hare. FMix: Enhancing Mixed Sample Data "
        "Augmentation. arXiv:2002.12047, 2020"
    )
    needs = frozenset({"images"})
    uses = ("alpha",)
    off = {"alpha": 0.0}
    options = {
        "decay_power": Option(
            3.0,
            low=0.5,
            high=10.0,
            doc="delta: the spectrum falls as 1 / frequency ** delta (larger: smoother, fewer blobs)",
        ),
        "max_soft": Option(
            0.0, low=0.0, high=0.5, doc="the share of pixels on each side of the cut that ramp from 1 to 0"
        ),
    }

    def mix(self, x: Tensor, y: Tensor, draws: Draws) -> MixedBatch:
        values: Mapping[str, Any] = self.options  # the trial's values (the class declares Options)
        return fmix_batch(x, y, draws, self.config.alpha, values["decay_power"], values["max_soft"])
