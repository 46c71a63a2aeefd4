"""SaliencyMix (Uddin, Monira, Shin, Chung, Bae, ICLR 2021): CutMix whose box is centred on the most
salient pixel of the image it is cut from.

As the authors' code (SaliencyMix/SaliencyMix) does: lambda ~ Beta(alpha, alpha) (their beta, 1) and a
random permutation per batch; the saliency map of one source image, the partner of the batch's first
example, by OpenCV's static fine-grained saliency (``cv2.saliency``, in opencv-contrib: the ``saliency``
extra); its most salient pixel (the first of the map quantised to 0..255) centres a box of sides
int(side * sqrt(1 - lambda)), corners at the centre +- side // 2, clipped; that box of every partner is
pasted at the same place into its image, and the own label's weight is the area left. The authors' CIFAR
runs mix a batch with probability 0.5: the trial's ``mix_prob: 0.5``.

Options beyond the authors' code:

- ``saliency_of: image`` computes one map per source image (a loop over the batch on the CPU), where the
  code's one map of one image sets the box for the whole batch (``batch``, the default).
- ``saliency_input``: what OpenCV is given. ``uint8`` (the default, the paper's saliency of the picture):
  each source image scaled to 0..255 over its own range, height x width x channels. ``float``: the
  normalised float tensor as the authors' code hands it over; OpenCV's fine-grained saliency reads a
  float image's memory as bytes, so that map is not of the picture (a blob's argmax found near it 19
  times in 200 against 86 from uint8, docs/mixup-family.md). ``float`` reproduces their numbers' boxes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError
from ._functional import beta_weight, box_masks, one_box, permutation
from ._protocol import Draws, MixedBatch, MixMethod, Option
from ._registry import register_mix_method

if TYPE_CHECKING:
    from ..config import TrainConfig

MISSING = "saliencymix needs OpenCV's saliency module (opencv-contrib): pip install 'mixup-tune[saliency]'"


def saliency_map(image: Tensor, given: str) -> np.ndarray:
    """OpenCV's static fine-grained saliency of one image (C, H, W), quantised to 0..255 as the authors' code
    does before its argmax."""
    import cv2  # the saliency extra; checked by SaliencyMix.check_config before a trial starts

    array = image.detach().float().cpu().numpy().transpose(1, 2, 0)
    if given == "uint8":
        low, high = float(array.min()), float(array.max())
        array = np.round((array - low) / max(high - low, 1e-12) * 255).astype(np.uint8)
    array = np.ascontiguousarray(array[:, :, 0] if array.shape[2] == 1 else array)
    detector = cv2.saliency.StaticSaliencyFineGrained_create()  # type: ignore[attr-defined]  # contrib, unstubbed
    found, saliency = detector.computeSaliency(array)
    if not found:
        raise RuntimeError("OpenCV's fine-grained saliency failed on an image")
    return (np.asarray(saliency) * 255).astype(np.uint8)


def salient_box(saliency: np.ndarray, lam: float) -> tuple[int, int, int, int, float]:
    """CutMix's box for ``lam`` (``one_box``) at the saliency's first maximum: top, bottom, left, right, and
    the own label's weight, the area it leaves."""
    row, col = np.unravel_index(int(np.argmax(saliency)), saliency.shape)
    return one_box(saliency.shape, lam, int(row), int(col))


def saliencymix_batch(x: Tensor, y: Tensor, draws: Draws, alpha: float, of: str, given: str) -> MixedBatch:
    """One SaliencyMix batch: lambda, then the permutation, then the saliency of the partners."""
    n, _, h, w = x.shape
    lam = beta_weight(draws, alpha)
    perm = permutation(draws, n).to(x.device, non_blocking=True)
    partner = x[perm]
    if of == "batch":
        top, bottom, left, right, weight = salient_box(saliency_map(partner[0], given), lam)
        mixed = x.clone()
        mixed[:, :, top:bottom, left:right] = partner[:, :, top:bottom, left:right]
        return MixedBatch.pair(mixed, y, y[perm], weight)
    boxes = np.array([salient_box(saliency_map(image, given), lam) for image in partner])
    top, bottom, left, right = boxes[:, :4].T.astype(int)
    inside = box_masks((h, w), (top, bottom, left, right), x.device)
    weights = torch.as_tensor(boxes[:, 4], dtype=torch.float32, device=x.device)
    return MixedBatch.pair(torch.where(inside[:, None], partner, x), y, y[perm], weights)


def saliency_available() -> bool:
    try:
        import cv2
    except ImportError:
        return False
    return hasattr(cv2, "saliency")


@register_mix_method
class SaliencyMix(MixMethod):
    name = "saliencymix"
    display_name = "SaliencyMix"
    citation = (
        "Uddin, Monira, Shin, Chung, Bae. SaliencyMix: A Saliency Guided Data Augmentation Strategy for "
        "Better Regularization. ICLR 2021"
    )
    needs = frozenset({"images"})
    uses = ("alpha",)
    off = {"alpha": 0.0}
    options = {
        "saliency_of": Option(
            "batch", choices=("batch", "image"), doc="one saliency map per batch (the authors') or per image"
        ),
        "saliency_input": Option(
            "uint8", choices=("uint8", "float"), doc="OpenCV given the picture (uint8) or the authors' floats"
        ),
    }

    @classmethod
    def check_config(cls, config: TrainConfig) -> None:
        if not saliency_available():
            raise ConfigError("mix.method", MISSING)

    def mix(self, x: Tensor, y: Tensor, draws: Draws) -> MixedBatch:
        values: Mapping[str, Any] = self.options  # the trial's values (the class declares Options)
        return saliencymix_batch(
            x, y, draws, self.config.alpha, values["saliency_of"], values["saliency_input"]
        )
