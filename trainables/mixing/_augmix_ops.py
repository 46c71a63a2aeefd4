"""AugMix's nine operations (Hendrycks et al., ICLR 2020), batched: each image of a batch gets its own
magnitude and sign, in one call per operation, on uint8 images of shape (N, C, H, W).

The operations and their magnitudes are the authors' (google-research/augmix, ``augmentations.py``, the
CIFAR list: the ones that overlap no CIFAR-10-C corruption), from a level drawn in [0.1, severity):
posterize to 4 - int(level * 4 / 10) bits, rotate by int(level * 3) degrees, solarize above 256 -
int(level * 25.6), shear by level * 0.03, translate by int(level * side / 30) pixels; autocontrast and
equalize take no magnitude. The authors apply them to PIL images; these are torchvision's tensor forms
(bilinear sampling at pixel centres, zeros outside, rounded back to uint8), which
``tests/trainables/test_augmix.py`` holds to ``torchvision.transforms.v2.functional`` image by image.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

# (images, level, sign) -> images; level in [0.1, severity) and sign +-1 per image, both on the CPU.
Operation = Callable[[Tensor, Tensor, Tensor], Tensor]


def int_parameter(level: Tensor, maximum: float) -> Tensor:
    """The authors' ``int(level * maxval / 10)``: truncated toward zero (levels are positive)."""
    return torch.floor(level * maximum / 10)


# torchvision's functional ops, imported when AugMix first draws them: importing torchvision costs 1.3 s on
# 2 cores, which every process that imports the mixing methods (each Ray worker, `mixup-tune check`) paid


def _autocontrast(images: Tensor, level: Tensor, sign: Tensor) -> Tensor:
    import torchvision.transforms.v2.functional as TF

    return TF.autocontrast(images)  # per image and channel already


def _equalize(images: Tensor, level: Tensor, sign: Tensor) -> Tensor:
    import torchvision.transforms.v2.functional as TF

    return TF.equalize(images)


def _posterize(images: Tensor, level: Tensor, sign: Tensor) -> Tensor:
    bits = 4 - int_parameter(level, 4).long()
    mask = ((1 << bits) - 1) << (8 - bits)
    return images & mask.to(images.device, torch.uint8).view(-1, 1, 1, 1)


def _solarize(images: Tensor, level: Tensor, sign: Tensor) -> Tensor:
    threshold = (256 - int_parameter(level, 256)).view(-1, 1, 1, 1).to(images.device)
    return torch.where(images >= threshold, 255 - images, images)


def affine(images: Tensor, matrix: Tensor) -> Tensor:
    """Each image resampled through its own (2, 3) ``matrix``, which maps an output pixel's centre to the
    input position it is read from, in pixels from the top-left corner (PIL's ``Image.transform`` AFFINE
    data). Bilinear, zeros outside the image, rounded to uint8: torchvision's ``affine`` for tensors."""
    n, _, h, w = images.shape
    matrix = matrix.to(torch.float32)
    # to coordinates about the image's centre, where torchvision builds its sampling grid
    centre = torch.tensor([w / 2, h / 2])
    linear = matrix[:, :, :2]
    shift = matrix[:, :, 2] + linear @ centre - centre
    xs = torch.arange(w, dtype=torch.float32) - w / 2 + 0.5
    ys = torch.arange(h, dtype=torch.float32) - h / 2 + 0.5
    points = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).view(1, h * w, 2)
    source = points @ linear.transpose(1, 2) + shift[:, None, :]
    grid = (source / torch.tensor([w / 2, h / 2])).view(n, h, w, 2).to(images.device)
    out = F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.round_().clamp_(0, 255).to(torch.uint8)


def _matrices(n: int, a: Tensor | float, b: Tensor | float, c: Tensor | float, d: Tensor | float,
              e: Tensor | float, f: Tensor | float) -> Tensor:  # fmt: skip
    rows = [torch.as_tensor(v, dtype=torch.float32).expand(n) for v in (a, b, c, d, e, f)]
    return torch.stack(rows, dim=1).view(n, 2, 3)


def _rotate(images: Tensor, level: Tensor, sign: Tensor) -> Tensor:
    n, _, h, w = images.shape
    theta = torch.deg2rad(int_parameter(level, 30) * sign)
    cos, sin = torch.cos(theta), torch.sin(theta)
    # PIL's rotate(degrees): counter-clockwise about the centre (w / 2, h / 2)
    cx, cy = w / 2, h / 2
    return affine(
        images, _matrices(n, cos, -sin, cx - cos * cx + sin * cy, sin, cos, cy - sin * cx - cos * cy)
    )


def _shear_x(images: Tensor, level: Tensor, sign: Tensor) -> Tensor:
    return affine(images, _matrices(len(images), 1, level * 0.3 / 10 * sign, 0, 0, 1, 0))


def _shear_y(images: Tensor, level: Tensor, sign: Tensor) -> Tensor:
    return affine(images, _matrices(len(images), 1, 0, 0, level * 0.3 / 10 * sign, 1, 0))


def _translate_x(images: Tensor, level: Tensor, sign: Tensor) -> Tensor:
    shift = int_parameter(level, images.shape[-1] / 3) * sign
    return affine(images, _matrices(len(images), 1, 0, shift, 0, 1, 0))


def _translate_y(images: Tensor, level: Tensor, sign: Tensor) -> Tensor:
    shift = int_parameter(level, images.shape[-2] / 3) * sign
    return affine(images, _matrices(len(images), 1, 0, 0, 0, 1, shift))


# The authors' order (``augmentations.augmentations``): an op is drawn by its index in this tuple.
OPERATIONS: tuple[tuple[str, Operation], ...] = (
    ("autocontrast", _autocontrast),
    ("equalize", _equalize),
    ("posterize", _posterize),
    ("rotate", _rotate),
    ("solarize", _solarize),
    ("shear_x", _shear_x),
    ("shear_y", _shear_y),
    ("translate_x", _translate_x),
    ("translate_y", _translate_y),
)


def apply_chains(images: Tensor, ops: Tensor, levels: Tensor, signs: Tensor, depths: Tensor) -> Tensor:
    """Each image through its own chain: step s applies op ``ops[i, s]`` (an index of ``OPERATIONS``) at
    ``levels[i, s]`` and ``signs[i, s]`` to image i if s < ``depths[i]``. One batched call per step and
    operation, never one per image."""
    out = images.clone()
    ops, levels, signs, depths = ops.cpu(), levels.cpu(), signs.cpu(), depths.cpu()
    for step in range(ops.shape[1]):
        active = depths > step
        for index, (_, operation) in enumerate(OPERATIONS):
            chosen = torch.nonzero(active & (ops[:, step] == index)).flatten()
            if len(chosen):
                where = chosen.to(out.device)
                out[where] = operation(out[where], levels[chosen, step], signs[chosen, step])
    return out


__all__ = ["OPERATIONS", "Operation", "affine", "apply_chains", "int_parameter"]
