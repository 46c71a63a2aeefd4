"""mixup's arithmetic as functions, for code outside a trial: the GAN's mixing, notebooks, tests.

The methods themselves (mixup and Section 2's variants, CutMix, Manifold Mixup, and any a user registers)
are classes of the mixing registry, one module each under ``trainables/mixing/``; the functions here are
theirs (``trainables.mixing._functional``). ``MixupSampler`` draws the paper's lambdas and partners from
one trial's ``Draws``; ``training_loss`` is one minibatch of mixup, end to end.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .mixing import Draws, MixedBatch, batch_loss
from .mixing._functional import (
    Criterion,
    blend,
    cutmix_boxes,
    epoch_draws,
    erm_loss,
    mix_inputs,
    mix_many,
    mixup_cross_entropy,
    one_box,
    one_lambda_cross_entropy,
    pair_draws,
    permutation,
    same_label_permutation,
    simplex_weights,
    soft_target_cross_entropy,
)

__all__ = [
    "Criterion",
    "MixupSampler",
    "cutmix_boxes",
    "erm_loss",
    "mix_inputs",
    "mix_many",
    "mixup_cross_entropy",
    "one_box",
    "one_lambda_cross_entropy",
    "soft_target_cross_entropy",
    "training_loss",
]


class MixupSampler:
    """lambda ~ Beta(alpha, alpha) (k > 2: Dirichlet weights) and partner permutations, from ``Draws`` seeded
    by ``seed``; its ``state_dict`` is theirs."""

    def __init__(self, alpha: float, lambda_per: str, seed: int, k: int = 2) -> None:
        self.alpha = float(alpha)
        self.k = k  # examples per mixed input
        self.per_sample = lambda_per == "sample"
        self.draws = Draws(seed)

    @property
    def mixes(self) -> bool:
        return self.alpha > 0

    @property
    def lambda_rng(self) -> Any:
        """The numpy generator lambdas come from."""
        return self.draws.numpy

    @property
    def perm_gen(self) -> torch.Generator:
        """The torch generator permutations come from."""
        return self.draws.torch

    def sample(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """Lambda, shape (batch_size,) (one value repeated unless per-sample), and the permutation."""
        weight, perm = pair_draws(self.draws, self.alpha, self.per_sample, batch_size)
        lam = weight if isinstance(weight, Tensor) else torch.tensor([weight], dtype=torch.float32)
        return lam.expand(batch_size), perm

    def sample_one(self, batch_size: int) -> tuple[float, Tensor]:
        """One lambda for the whole batch, as a Python number, and the permutation."""
        weight, perm = pair_draws(self.draws, self.alpha, False, batch_size)
        assert isinstance(weight, float)
        return weight, perm

    def plan(self, batch_sizes: list[int]) -> tuple[Tensor, list[Tensor]]:
        """A whole epoch's draws at once, in batch order: one weight per example, and each batch's
        permutation (the same numbers as ``sample`` batch by batch)."""
        return epoch_draws(self.draws, self.alpha, self.per_sample, batch_sizes)

    def weights(self, batch_size: int) -> Tensor:
        """Mixing weights, shape (batch_size, k), rows summing to 1; column 0 is the example's own weight."""
        return simplex_weights(self.draws, self.alpha, self.k, self.per_sample, batch_size)

    def permutation(self, size: int) -> Tensor:
        return permutation(self.draws, size)

    def same_label_permutation(self, y: Tensor) -> Tensor:
        return same_label_permutation(self.draws, y)

    def state_dict(self) -> dict[str, Any]:
        return self.draws.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.draws.load_state_dict(state)


def training_loss(model: nn.Module, x: Tensor, y: Tensor, sampler: MixupSampler) -> Tensor:
    """The loss of one minibatch mixed by ``sampler`` with a permutation of itself (the paper's Section 2).
    With alpha = 0, exact ERM."""
    if not sampler.mixes:
        return F.cross_entropy(model(x), y)
    weight, perm = pair_draws(sampler.draws, sampler.alpha, sampler.per_sample, len(x))
    perm = perm.to(x.device)
    batch = MixedBatch.pair(blend(x, weight, perm), y, y[perm], weight)
    return batch_loss(batch, model(batch.inputs))
