"""timm's ``Mixup`` (``timm.data.mixup``, Wightman), its modes included: mixup and CutMix switched per
batch, per pair or per example, each image mixed with the image at the other end of the batch.

- ``mode: batch``: one draw for the batch; ``pair``: one per pair (i, B - 1 - i), the two mixed alike
  (CutMix swaps one box between them); ``elem``: one per example, each mixed with an unmixed copy of its
  partner.
- The trial's alpha is timm's ``mixup_alpha``; ``cutmix_alpha`` is CutMix's. With both above 0 a unit
  takes CutMix with probability ``switch_prob``; with one, that one. lambda ~ Beta(alpha, alpha).
- ``prob``: the probability that a unit (the batch, a pair, an example) is mixed at all.
- CutMix's box: sides int(side * sqrt(1 - lambda)) centred at a uniform pixel, clipped; or, with
  ``cutmix_minmax: [low, high]`` (0, 0: not used), sides drawn uniformly from [int(side * low),
  int(side * high)) at a uniform corner where the box fits. ``correct_lam`` (always, with minmax) makes
  lambda the area left.
- Targets: lambda on the own label, 1 - lambda on the partner's; label smoothing is the trial's.

Every draw is from the trial's numpy generator, in timm's order for a unit's lambda and switch; boxes are
drawn for all units at once (timm loops over examples). tests/trainables/test_family.py holds each mode to
timm's own ``Mixup`` given the same lambdas, switches and boxes. Beyond timm: an odd batch (timm refuses
it) leaves its middle example unmixed in ``pair`` mode and mixed with itself (a no-op) in the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError
from ._functional import box_masks
from ._protocol import Draws, MixedBatch, MixMethod, Option
from ._registry import register_mix_method

if TYPE_CHECKING:
    from ..config import TrainConfig

Boxes = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # top, bottom, left, right per unit


def unit_draws(
    draws: Draws,
    units: int,
    alpha: float,
    cutmix_alpha: float,
    switch_prob: float,
    prob: float,
    per_batch: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's lambda (float32, 1 where it is not mixed) and whether it takes CutMix, in timm's order:
    per batch the ``prob`` coin first, per pair or example last."""
    both, lam = alpha > 0 and cutmix_alpha > 0, np.ones(units, dtype=np.float32)
    if per_batch:
        if prob < 1 and draws.numpy.random() >= prob:
            return lam, np.zeros(1, dtype=bool)
        cut = np.array([draws.numpy.random() < switch_prob if both else cutmix_alpha > 0 and alpha <= 0])
        a = cutmix_alpha if cut[0] else alpha
        return np.array([draws.numpy.beta(a, a)], dtype=np.float32), cut
    if both:
        cut = draws.numpy.random(units) < switch_prob
        cut_lam = draws.numpy.beta(cutmix_alpha, cutmix_alpha, size=units)
        mix_lam = draws.numpy.beta(alpha, alpha, size=units)
        drawn = np.where(cut, cut_lam, mix_lam)
    else:
        a = alpha if alpha > 0 else cutmix_alpha
        cut = np.full(units, alpha <= 0)
        drawn = draws.numpy.beta(a, a, size=units)
    if prob < 1:
        lam = np.where(draws.numpy.random(units) < prob, drawn.astype(np.float32), lam)
    else:
        lam = drawn.astype(np.float32)
    return lam, cut


def unit_boxes(
    draws: Draws, size: tuple[int, int], lam: np.ndarray, minmax: tuple[float, float] | None
) -> Boxes:
    """CutMix's boxes for lambdas ``lam``, as timm's ``rand_bbox`` (or ``rand_bbox_minmax``) places them."""
    h, w = size
    count = len(lam)
    if minmax is None:
        cut_h = (h * np.sqrt(1 - lam)).astype(int)
        cut_w = (w * np.sqrt(1 - lam)).astype(int)
        rows, cols = draws.numpy.integers(0, h, size=count), draws.numpy.integers(0, w, size=count)
        top, bottom = np.clip(rows - cut_h // 2, 0, h), np.clip(rows + cut_h // 2, 0, h)
        left, right = np.clip(cols - cut_w // 2, 0, w), np.clip(cols + cut_w // 2, 0, w)
        return top, bottom, left, right
    low, high = minmax
    cut_h = _integers(draws, int(h * low), int(h * high), count)
    cut_w = _integers(draws, int(w * low), int(w * high), count)
    top = draws.numpy.integers(0, np.maximum(h - cut_h, 1))
    left = draws.numpy.integers(0, np.maximum(w - cut_w, 1))
    return top, top + cut_h, left, left + cut_w


def _integers(draws: Draws, low: int, high: int, count: int) -> np.ndarray:
    """Uniform in [low, high), as numpy's ``randint``; ``low`` where the range is empty (a small image)."""
    return draws.numpy.integers(low, high, size=count) if high > low else np.full(count, low)


def mix_flipped(
    x: Tensor, lam: np.ndarray, cut: np.ndarray, boxes: Boxes | None, correct_lam: bool
) -> tuple[Tensor, np.ndarray]:
    """Each example of ``x`` mixed with ``x.flip(0)`` by its own lambda (``lam``, one per example) and
    switch (``cut``); ``boxes`` for the examples that take CutMix, in their order. Returns the mixed batch
    and each example's own weight."""
    partner = x.flip(0)
    weight = lam.astype(np.float32)
    mixed = x
    blended = ~cut & (lam != 1)
    if blended.any():
        lam_t = torch.as_tensor(np.where(blended, lam, 1.0), device=x.device, dtype=x.dtype)
        mixed = torch.lerp(partner, x, lam_t.view(-1, *([1] * (x.dim() - 1))))
    pasted = cut & (lam != 1)
    if pasted.any():
        assert boxes is not None
        size = (x.shape[-2], x.shape[-1])
        inside = torch.zeros(len(x), *size, dtype=torch.bool, device=x.device)
        inside[torch.as_tensor(np.flatnonzero(pasted), device=x.device)] = box_masks(size, boxes, x.device)
        mixed = torch.where(inside[:, None], partner, mixed)
        if correct_lam:
            top, bottom, left, right = boxes
            weight[pasted] = 1 - (bottom - top) * (right - left) / float(size[0] * size[1])
    return mixed, weight


@register_mix_method
class TimmMixup(MixMethod):
    name = "timm_mixup"
    display_name = "mixup/CutMix (timm)"
    citation = (
        "Wightman. PyTorch Image Models (timm), timm.data.mixup.Mixup; after Zhang et al. (ICLR 2018) and "
        "Yun et al. (ICCV 2019)"
    )
    uses = ("alpha",)
    off = {"alpha": 0.0, "cutmix_alpha": 0.0, "cutmix_minmax": (0.0, 0.0)}
    options = {
        "mode": Option("batch", choices=("batch", "pair", "elem"), doc="one draw per batch, pair or example"),
        "cutmix_alpha": Option(0.0, low=0.0, doc="CutMix's Beta(alpha, alpha); 0: no CutMix"),
        "switch_prob": Option(0.5, low=0.0, high=1.0, doc="CutMix's share where both alphas are above 0"),
        "prob": Option(1.0, low=0.0, high=1.0, doc="the probability that a batch, pair or example is mixed"),
        "cutmix_minmax": Option(
            (0.0, 0.0),
            low=0.0,
            high=1.0,
            doc="box sides drawn from this range of the image's; 0, 0: not used",
        ),
        "correct_lam": Option(True, doc="CutMix's lambda is the area its clipped box leaves"),
    }

    @classmethod
    def requirements(cls, config: TrainConfig) -> frozenset[Any]:
        mix = config.mix
        return frozenset({"images"}) if mix["cutmix_alpha"] > 0 or any(mix["cutmix_minmax"]) else frozenset()

    @classmethod
    def check_config(cls, config: TrainConfig) -> None:
        low, high = config.mix["cutmix_minmax"]
        if (low or high) and not low < high:
            raise ConfigError(
                "mix.cutmix_minmax", f"must be [low, high] with low < high; got [{low}, {high}]"
            )

    def setup(self) -> None:
        values: Mapping[str, Any] = self.options  # the trial's values (the class declares Options)
        self.mode, self.prob = values["mode"], values["prob"]
        minmax = tuple(values["cutmix_minmax"])
        self.minmax: tuple[float, float] | None = minmax if any(minmax) else None
        # timm turns CutMix on with alpha 1 where a minmax range is given (its lambda is then the area)
        self.cutmix_alpha = 1.0 if self.minmax else values["cutmix_alpha"]
        self.switch_prob = values["switch_prob"]
        self.correct_lam = values["correct_lam"] or self.minmax is not None

    def mix(self, x: Tensor, y: Tensor, draws: Draws) -> MixedBatch:
        n, alpha = len(x), self.config.alpha
        units = 1 if self.mode == "batch" else n // 2 if self.mode == "pair" else n
        lam, cut = unit_draws(
            draws, units, alpha, self.cutmix_alpha, self.switch_prob, self.prob, self.mode == "batch"
        )
        mixing = cut & (lam != 1)
        boxes = (
            unit_boxes(draws, (x.shape[-2], x.shape[-1]), lam[mixing], self.minmax) if mixing.any() else None
        )
        if self.mode == "batch":
            if lam[0] == 1:
                return MixedBatch.unmixed(x, y)
            mixed, weight = mix_flipped(
                x, np.repeat(lam, n), np.repeat(cut, n), _repeat(boxes, n), self.correct_lam
            )
            return MixedBatch.pair(mixed, y, y.flip(0), float(weight[0]))
        if self.mode == "pair":  # the pair's draws for both its examples, the middle of an odd batch unmixed
            middle = np.ones(n % 2, dtype=np.float32)
            lam = np.concatenate([lam, middle, lam[::-1]])
            cut = np.concatenate([cut, np.zeros(n % 2, dtype=bool), cut[::-1]])
            boxes = None if boxes is None else tuple(np.concatenate([b, b[::-1]]) for b in boxes)  # type: ignore[assignment]
        mixed, weight = mix_flipped(x, lam, cut, boxes, self.correct_lam)
        return MixedBatch.pair(mixed, y, y.flip(0), torch.as_tensor(weight, device=x.device))


def _repeat(boxes: Boxes | None, n: int) -> Boxes | None:
    return None if boxes is None else tuple(np.repeat(b, n) for b in boxes)  # type: ignore[return-value]
