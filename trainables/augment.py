"""Random crop (zero padding 4) and horizontal flip on a whole batch at once, on its device."""

from __future__ import annotations

import torch
from torch import Tensor

PAD = 4  # pixels of zero padding before the random crop, as in the paper's CIFAR recipe


def crop_and_flip(x: Tensor, gen: torch.Generator) -> Tensor:
    """Each image gets its own shift in [-PAD, PAD]^2 and a coin-flip mirror.

    The draws come from ``gen`` (CPU, so its state can be checkpointed) and are
    applied with one gather; there is no per-image Python.
    """
    n, _, h, w = x.shape
    shifts = torch.randint(0, 2 * PAD + 1, (2, n), generator=gen).to(x.device)
    flips = (torch.rand(n, generator=gen) < 0.5).to(x.device)
    padded = torch.nn.functional.pad(x, (PAD, PAD, PAD, PAD))
    rows = (shifts[0][:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = shifts[1][:, None] + torch.arange(w, device=x.device)
    cols = torch.where(flips[:, None], cols.flip(1), cols)[:, None, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, channel, rows, cols]
