"""Augmentations of a whole batch at once, on its device: random crop (zero padding 4) and horizontal flip,
and Cutout (DeVries & Taylor, 2017)."""

from __future__ import annotations

import torch
from torch import Tensor

from .config import TrainConfig
from .errors import ConfigError

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


def cutout(x: Tensor, size: int, gen: torch.Generator) -> Tensor:
    """Each image gets a ``size`` x ``size`` square zeroed: its centre uniform over the image, the square
    from centre - size // 2, clipped at the borders (DeVries & Taylor's code, for any size).

    Applied to normalised inputs, as their code applies it after normalising: a zero is the mean pixel.
    The centres come from ``gen`` (CPU, checkpointed); the masks are built by broadcasting, with no
    per-image Python.
    """
    n, _, h, w = x.shape
    # per image, the square's first row and column, and each pixel's offset from them
    top, left = (torch.randint(side, (n,), generator=gen).to(x.device) - size // 2 for side in (h, w))
    offsets = lambda start, side: torch.arange(side, device=x.device) - start[:, None]
    in_rows, in_cols = ((0 <= d) & (d < size) for d in (offsets(top, h), offsets(left, w)))
    keep = ~(in_rows[:, :, None] & in_cols[:, None, :])
    return x * keep[:, None].to(x.dtype)


def check_image_options(config: TrainConfig, input_shape: tuple[int, ...], is_image: bool) -> None:
    """Refuse what needs images on examples that are not (Cutout, a mixing method that needs them, such as
    CutMix), and a Cutout larger than their side."""
    if config.cutout:
        check_image_option("cutout", input_shape, is_image, size=config.cutout)
    option, what = mixing_image_need(config)
    if option:
        check_image_option(option, input_shape, is_image, what=what)


def mixing_image_need(config: TrainConfig) -> tuple[str, str]:
    """The option to name, and what of it to say, when the trial's mixing needs images; ("", "") when it does
    not (or does not mix at all)."""
    from .mixing import method_class

    cls = method_class(config)
    if not cls.mixes_in(config) or "images" not in cls.requirements(config):
        return "", ""
    if config.mix:
        return "mix.method", f"{config.mix_method_name} "
    return "mix_method", "cutmix "  # CutMix itself, or mixup's switch to it


def check_image_option(
    option: str, input_shape: tuple[int, ...], is_image: bool, size: int = 0, what: str = ""
) -> None:
    """One option that needs images (and, for a ``size``, images at least that large): a ConfigError
    naming it (and ``what`` of it) if not."""
    if not is_image:
        shape = "x".join(map(str, input_shape))
        raise ConfigError(option, f"{what}needs images; this dataset's examples are {shape} features")
    h, w = input_shape[-2:]
    if size > min(h, w):
        raise ConfigError(option, f"{size} pixels is larger than the {h}x{w} images")
