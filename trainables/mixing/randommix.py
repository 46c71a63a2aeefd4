"""RandomMix (Liu, Li, Ye, Lu, Shen, 2022; later titled RandoMix): one mixing method per batch, drawn from
mixup, CutMix, FMix and ResizeMix with the probabilities ``weights`` (normalised). It generalises timm's
``switch_prob``, which draws between mixup and CutMix alone (``weights: [1 - p, p, 0, 0]`` is that choice,
from other draws).

Each candidate mixes as its own method does at its default options, with the trial's alpha for the three
that draw lambda from Beta(alpha, alpha) (CutMix one box per batch). The choice is a draw from the trial's
numpy generator before the candidate's own draws. A batch left unmixed is ``mix_prob``'s, as for every
method.

What was checked: the candidates and the per-batch choice are from the paper's abstract and its comparison;
its default weights could not be read here, and are equal, as OpenMixup's ``mix_mode`` list draws.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from torch import Tensor

from ..errors import ConfigError
from ._protocol import Draws, MixedBatch, MixMethod, Option
from ._registry import register_mix_method
from .cutmix import cutmix_batch
from .fmix import FMix, fmix_batch
from .mixup import mixup_batch
from .resizemix import ResizeMix, resizemix_batch

if TYPE_CHECKING:
    from ..config import TrainConfig

CANDIDATES = ("mixup", "cutmix", "fmix", "resizemix")


@register_mix_method
class RandomMix(MixMethod):
    name = "randommix"
    display_name = "RandomMix"
    citation = (
        "Liu, Li, Ye, Lu, Shen. RandomMix: A mixed sample data augmentation method with multiple mixed "
        "modes. arXiv:2205.08728, 2022"
    )
    needs = frozenset({"images"})
    uses = ("alpha",)
    off = {"alpha": 0.0}
    options = {
        "weights": Option(
            (1.0, 1.0, 1.0, 1.0), low=0.0, doc="the odds of mixup, CutMix, FMix and ResizeMix, in that order"
        ),
    }

    @classmethod
    def check_config(cls, config: TrainConfig) -> None:
        if sum(config.mix["weights"]) <= 0:
            raise ConfigError(
                "mix.weights", "must give at least one of mixup, cutmix, fmix, resizemix a weight"
            )

    def setup(self) -> None:
        weights = np.asarray(self.options["weights"], dtype=np.float64)
        self.probabilities = weights / weights.sum()
        fmix, resize = FMix.options, ResizeMix.options
        self.fmix_options = (fmix["decay_power"].default, fmix["max_soft"].default)
        self.resize_options = (resize["scope"].default, resize["interpolation"].default)

    def mix(self, x: Tensor, y: Tensor, draws: Draws) -> MixedBatch:
        alpha = self.config.alpha
        chosen = CANDIDATES[int(draws.numpy.choice(len(CANDIDATES), p=self.probabilities))]
        if chosen == "mixup":
            return mixup_batch(x, y, draws, alpha, per_sample=False)
        if chosen == "cutmix":
            return cutmix_batch(x, y, draws, alpha, per_sample=False)
        if chosen == "fmix":
            return fmix_batch(x, y, draws, alpha, *self.fmix_options)
        return resizemix_batch(x, y, draws, *self.resize_options)
