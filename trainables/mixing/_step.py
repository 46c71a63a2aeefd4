"""What the training step does with any method's ``MixedBatch``: one loss for every method, and the batch's
hidden-state mixing around its forward pass; ``Mixer``, a trial's method with the batch-level coin every
method gets (``mix_prob``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch.nn.functional as F
from torch import Tensor, nn

from ._functional import mixup_cross_entropy, one_lambda_cross_entropy, soft_target_cross_entropy
from ._protocol import Draws, MixedBatch, MixMethod


def batch_loss(batch: MixedBatch, logits: Tensor, smoothing: float = 0.0) -> Tensor:
    """The mean loss of the model's ``logits`` on ``batch.inputs``: the method's own loss where it has one,
    else cross-entropy against its targets, label-smoothed by ``smoothing``.

    Each form of the targets takes the form of the loss that ``tests/trainables/test_mixup.py`` holds equal
    to the definition (``trainables.mixup.mixup_cross_entropy``); they differ in speed only.
    """
    if batch.loss is not None:
        return batch.loss(logits)
    if batch.targets is not None:
        return soft_target_cross_entropy(logits, batch.targets, smoothing)
    labels, weights = batch.labels, batch.weights
    if len(labels) == 1 and isinstance(weights, float) and weights == 1.0:  # unmixed: ERM
        return (
            F.cross_entropy(logits, labels[0], label_smoothing=smoothing)
            if smoothing
            else F.cross_entropy(logits, labels[0])
        )
    if isinstance(weights, float):
        return one_lambda_cross_entropy(logits, labels[0], labels[1], weights, smoothing)
    return mixup_cross_entropy(logits, list(labels), weights, smoothing)


@contextmanager
def mixing_hidden(batch: MixedBatch) -> Iterator[None]:
    """Around the batch's forward pass: mix the chosen layer's output (``batch.hidden``), once."""
    if batch.hidden is None:
        yield
        return
    layer, mix = batch.hidden

    def mix_once(module: nn.Module, inputs: Any, output: Tensor) -> Tensor:
        handle.remove()  # this forward pass only, even where the layer is called twice
        return mix(output)

    handle = layer.register_forward_hook(mix_once)
    try:
        yield
    finally:
        handle.remove()


class Mixer:
    """A trial's mixing: its method and draws, and whether a batch mixes at all (timm's ``prob``: a batch is
    left unmixed with probability 1 - ``mix_prob``, a coin from the same generator as the method's draws,
    drawn only when ``mix_prob`` < 1 so that the paper's method draws exactly what it always drew)."""

    def __init__(self, method: MixMethod, draws: Draws, mix_prob: float, warmup_epochs: int) -> None:
        self.method, self.draws = method, draws
        self.mix_prob, self.warmup_epochs = mix_prob, warmup_epochs
        self.active = type(method).mixes_in(method.config)

    def mixes(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (0-based) is mixed: the method is on and the ERM warm-up is over."""
        return self.active and epoch >= self.warmup_epochs

    def batch(self, x: Tensor, y: Tensor) -> MixedBatch:
        if self.mix_prob < 1 and self.draws.numpy.random() >= self.mix_prob:
            return MixedBatch.unmixed(x, y)
        return self.method.mix(x, y, self.draws)

    def description(self) -> str:
        """How tables and figures name what the trial trained with: the method's display name, or ERM for a
        method at its off settings."""
        return self.method.display_name if self.active else "ERM"

    def state_dict(self) -> dict[str, Any]:
        return self.method.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.method.load_state_dict(state)
