"""mixup (Zhang et al., ICLR 2018, Section 2), with the section's alternatives as the trial's options.

x~ = lam * x_i + (1 - lam) * x_j, j a random permutation of the minibatch, lam ~ Beta(alpha, alpha) once
per batch (``lambda_per: sample``: once per example); the loss is the cross-entropy against the mixed
one-hot targets. Section 2 also names three alternatives: k-way mixing with Dirichlet(alpha, ..., alpha)
weights (``mix_k``), partners from a second pass over the data (``mix_pairing: two_loaders``), and partners
of the same label (``same_label``, the paper's ablation). ``mix_switch_prob`` sends some batches to CutMix
instead, as timm's ``Mixup`` does.

Without augmentation an epoch can be mixed at once (``mix_epoch``), from the same draws as batch by batch:
on small models, mixup's dozen small operations per batch were a fifth of the epoch
(benchmarks/mixup_overhead.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from ._functional import (
    blend,
    epoch_draws,
    mix_many,
    pair_draws,
    permutation,
    same_label_permutation,
    simplex_weights,
)
from ._protocol import Draws, MixContext, MixedBatch, MixMethod, Need
from ._registry import register_mix_method
from .cutmix import cutmix_batch


def mixup_batch(x: Tensor, y: Tensor, draws: Draws, alpha: float, per_sample: bool) -> MixedBatch:
    """The paper's batch: lambda (one, or one per example), then a permutation; also what RandomMix and
    RegMixup mix with."""
    weight, perm = pair_draws(draws, alpha, per_sample, len(x))
    perm = perm.to(x.device, non_blocking=True)
    return MixedBatch.pair(blend(x, weight, perm), y, y[perm], weight)


@register_mix_method
class Mixup(MixMethod):
    name = "mixup"
    display_name = "mixup"
    citation = "Zhang, Cisse, Dauphin, Lopez-Paz. mixup: Beyond Empirical Risk Minimization. ICLR 2018"
    uses = ("alpha", "lambda_per", "mix_k", "mix_pairing", "mix_switch_prob")
    off = {"alpha": 0.0}

    @classmethod
    def requirements(cls, config: object) -> frozenset[Need]:
        return frozenset({"images"}) if getattr(config, "mix_switch_prob", 0) > 0 else frozenset()

    def setup(self) -> None:
        config = self.config
        self.alpha, self.per_sample = config.alpha, config.lambda_per == "sample"
        self.k, self.pairing, self.switch_prob = config.mix_k, config.mix_pairing, config.mix_switch_prob
        self._orders: list[Tensor] = []  # two_loaders: this epoch's second passes over the data
        self._start = 0  # where the next batch's partners start in them

    def start_epoch(self, draws: Draws) -> None:
        if self.pairing == "two_loaders":
            context = self.context
            self._orders = [
                permutation(draws, context.train_size).to(context.device) for _ in range(self.k - 1)
            ]
            self._start = 0

    def mix(self, x: Tensor, y: Tensor, draws: Draws) -> MixedBatch:
        if self.switch_prob > 0 and draws.numpy.random() < self.switch_prob:
            return cutmix_batch(x, y, draws, self.alpha, self.per_sample)
        if self.k > 2 or self.pairing != "shuffle":
            return self._variant(x, y, draws)
        return mixup_batch(x, y, draws, self.alpha, self.per_sample)

    def _variant(self, x: Tensor, y: Tensor, draws: Draws) -> MixedBatch:
        """k examples per mixed input; partners from the batch itself (within each label for
        ``same_label``), or from slices of the epoch's second passes, augmented on their own."""
        size = len(x)
        if self.pairing == "two_loaders":
            assert self.context.examples is not None, (
                "two_loaders needs the data in memory (TrainConfig refuses it)"
            )
            partners = [
                self.context.examples(order[self._start : self._start + size]) for order in self._orders
            ]
            xs, ys = [x, *(p[0] for p in partners)], [y, *(p[1] for p in partners)]
            self._start += size
        else:
            perms = [torch.arange(size, device=x.device)] + [
                self._partners(y, draws) for _ in range(self.k - 1)
            ]
            xs, ys = [x[p] for p in perms], [y[p] for p in perms]
        weights = simplex_weights(draws, self.alpha, self.k, self.per_sample, size)
        return MixedBatch.many(mix_many(xs, weights), ys, weights)

    def _partners(self, y: Tensor, draws: Draws) -> Tensor:
        if self.pairing == "same_label":
            return same_label_permutation(draws, y)
        return permutation(draws, len(y)).to(y.device)

    def mix_epoch(
        self, batches: list[Tensor], context: MixContext, draws: Draws
    ) -> Iterator[MixedBatch] | None:
        if self.k > 2 or self.pairing != "shuffle" or self.switch_prob > 0 or context.examples is None:
            return None
        return self._premixed(batches, context, draws)

    def _premixed(self, batches: list[Tensor], context: MixContext, draws: Draws) -> Iterator[MixedBatch]:
        """The epoch's mixed inputs and soft targets, from the same draws as batch by batch, then sliced per
        batch."""
        assert context.examples is not None
        sizes = [len(idx) for idx in batches]
        weights, perms = epoch_draws(draws, self.alpha, self.per_sample, sizes)
        own = torch.cat(batches)
        partner = torch.cat([idx[perm.to(context.device)] for idx, perm in zip(batches, perms)])
        w = weights.to(context.device)
        (x_partner, y_partner), (x_own, y_own) = context.examples(partner), context.examples(own)
        mixed = torch.lerp(x_partner, x_own, w.view(-1, *([1] * (x_own.dim() - 1))))
        # One-hot sums, not scatter_add_ (no deterministic CUDA kernel); the same values to the bit.
        one_hot = lambda labels: F.one_hot(labels, context.num_classes).float()
        targets = w[:, None] * one_hot(y_own) + (1 - w)[:, None] * one_hot(y_partner)
        start = 0
        for size in sizes:
            yield MixedBatch.soft(mixed[start : start + size], targets[start : start + size])
            start += size
