"""PuzzleMix (Kim, Choo, Song, ICML 2020): the image and its partner mixed block by block, where the
blocks shown are chosen by graph cuts to keep each image's salient parts and a smooth seam, and the salient
blocks are then moved (transported) to where the mask shows them.

As the authors' CIFAR code (snu-mllab/PuzzleMix @ e2dbf3a, ``main.py`` and ``mixup.py``) does, per batch:
blocks per side n drawn uniformly from 2, 4, 8, 16 (those that divide the image's side here), a
permutation, lambda ~ Beta(alpha, alpha); the saliency from one extra forward and backward pass of the
clean batch with the model in eval mode: sqrt of the channel mean of the squared input gradient of the
mean cross-entropy, average-pooled per block and divided by each image's sum; per image, a mask of
``n_labels`` levels (the own image's share 1, 0.5, 0 with 3) over the n x n blocks by alpha-beta swap
(gco-wrapper), its energy the saliency each label throws away, ``eta`` times a Binomial prior around
lambda, and a seam cost (``beta``, with ``gamma`` times the pixel difference across block edges pooled by
``neigh_size``); then, with ``transport``, each image's salient blocks moved under the mask by the authors'
greedy plan (``t_eps``, at ``t_size`` pixels); the own label's weight is the mask's mean.

The extra pass costs a forward and backward of the batch, and the graph cuts run on the CPU, one image at a
time (the authors run 8 processes). Needs images, the model and the ``puzzlemix`` extra (gco-wrapper).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError
from ._functional import permutation
from ._protocol import Draws, MixedBatch, MixMethod, Option
from ._puzzle_parts import (
    block_saliency,
    cut_mask,
    divisor_at_most,
    graph_terms,
    move_blocks,
    transport_plan,
)
from ._registry import register_mix_method

if TYPE_CHECKING:
    from ..config import TrainConfig

BLOCKS_PER_SIDE = (2, 4, 8, 16)  # the authors' 2 ** randint(1, 5)
MISSING = "puzzlemix needs the graph-cut library gco-wrapper: pip install 'mixup-tune[puzzlemix]'"


def gco_available() -> bool:
    try:
        import gco  # noqa: F401
    except ImportError:
        return False
    return True


def input_saliency(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    """(N, H, W): sqrt of the channel mean of the squared gradient of the batch's mean cross-entropy with
    respect to its inputs, the model in eval mode (no dropout; batch norm's running statistics, left
    unchanged), then back in the mode it was in. No parameter's gradient is touched."""
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            inputs = x.detach().float().requires_grad_(True)
            loss = F.cross_entropy(model(inputs).float(), y)
            (gradient,) = torch.autograd.grad(loss, inputs)
    finally:
        model.train(was_training)
    return gradient.square().mean(1).sqrt()


def candidate_blocks(height: int, width: int) -> list[int]:
    return [n for n in BLOCKS_PER_SIDE if height % n == 0 and width % n == 0]


def puzzle_mix(
    x: Tensor,
    pixels: Tensor,
    saliency: Tensor,
    perm: Tensor,
    blocks: int,
    lam: float,
    options: Mapping[str, Any],
) -> tuple[Tensor, Tensor]:
    """The mixed batch and each image's own share, for the draws (blocks, perm, lam) and ``saliency``."""
    side = x.shape[-1]
    block = side // blocks
    neigh = divisor_at_most(block, options["neigh_size"])
    beta = options["beta"] / blocks / 16
    unary = block_saliency(saliency, block)
    perm = perm.to(x.device)
    terms = graph_terms(unary, pixels, perm, blocks, beta, options["gamma"], neigh)
    partner_cost, own_cost, rows, cols = (term.detach().cpu().numpy() for term in terms)
    masks = np.stack(
        [
            cut_mask(
                partner_cost[i], own_cost[i], rows[i], cols[i], lam, beta, options["eta"], options["n_labels"]
            )
            for i in range(len(x))
        ]
    )
    mask = torch.as_tensor(masks, dtype=torch.float32, device=x.device)[:, None]
    own, partner = x, x[perm]
    if options["transport"]:
        size = options["t_size"]
        # the authors' t_size: -1 transports at the graph cut's blocks, a smaller size at finer ones
        t_blocks = side // size if 0 < size < block and block % size == 0 else blocks
        if t_blocks != blocks:
            mask = F.interpolate(mask, size=t_blocks)
            unary = block_saliency(saliency, side // t_blocks)
        own = move_blocks(own, transport_plan(mask, unary, options["t_eps"]), t_blocks)
        partner = move_blocks(partner, transport_plan(1 - mask, unary[perm], options["t_eps"]), t_blocks)
    mask = F.interpolate(mask, size=side)
    mixed = mask * own + (1 - mask) * partner
    return mixed.to(x.dtype), mask.flatten(1).mean(1)


@register_mix_method
class PuzzleMix(MixMethod):
    name = "puzzlemix"
    display_name = "PuzzleMix"
    citation = (
        "Kim, Choo, Song. Puzzle Mix: Exploiting Saliency and Local Statistics for Optimal Mixup. ICML 2020"
    )
    needs = frozenset({"images", "extra_forward"})
    uses = ("alpha",)
    off = {"alpha": 0.0}
    options = {
        "n_labels": Option(3, choices=(2, 3, 4), doc="mask levels per block (3: shares 1, 0.5, 0)"),
        "beta": Option(1.2, low=0.0, doc="the seam's cost: label smoothness"),
        "gamma": Option(0.5, low=0.0, doc="the seam's data term: pixel differences across block edges"),
        "eta": Option(0.2, low=0.0, doc="the prior's weight: the mask's mean near lambda"),
        "neigh_size": Option(4, low=1, doc="pixels pooled for the seam's data term"),
        "transport": Option(True, doc="move salient blocks to where the mask shows them"),
        "t_eps": Option(0.8, low=0.0, doc="the transport's distance cost"),
        "t_size": Option(4, low=-1, doc="transport block side in pixels; -1: the graph cut's blocks"),
    }

    @classmethod
    def check_config(cls, config: TrainConfig) -> None:
        if not gco_available():
            raise ConfigError("mix.method", MISSING)

    def setup(self) -> None:
        if self.context.model is None or self.context.normalisation is None:
            raise ConfigError("mix.method", "puzzlemix needs the model and the inputs' normalisation")
        self.model = self.context.model
        self.mean, self.std = (part.to(self.context.device) for part in self.context.normalisation)

    def mix(self, x: Tensor, y: Tensor, draws: Draws) -> MixedBatch:
        h, w = x.shape[-2:]
        choices = candidate_blocks(h, w)
        if h != w or not choices:
            raise ConfigError("mix.method", f"puzzlemix needs square images of an even side; got {h}x{w}")
        blocks = choices[int(draws.numpy.integers(len(choices)))]
        perm = permutation(draws, len(x))
        lam = float(draws.numpy.beta(self.config.alpha, self.config.alpha))
        saliency = input_saliency(self.model, x, y)
        pixels = x.float() * self.std + self.mean
        options: Mapping[str, Any] = self.options  # the trial's values (the class declares Options)
        mixed, share = puzzle_mix(x, pixels, saliency, perm, blocks, lam, options)
        return MixedBatch.pair(mixed.detach(), y, y[perm.to(y.device)], share)
