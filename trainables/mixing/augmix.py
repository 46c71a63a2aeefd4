"""AugMix (Hendrycks, Mu, Cubuk, Zoph, Gilmer, Lakshminarayanan, ICLR 2020): each image, as ``width``
chains of 1 to 3 random operations mixed by Dirichlet weights and then with the image itself, twice; the
clean image and its two AugMix views go through the model as one batch of 3N, and the loss is the clean
images' cross-entropy plus ``jsd_weight`` times the Jensen-Shannon divergence of the three predictions.

As the authors' CIFAR code (google-research/augmix, ``cifar.py``) does, image by image: chain weights ~
Dirichlet(alpha, ..., alpha) and m ~ Beta(alpha, alpha) (their ``aug_prob_coeff``, 1: the trial's
``alpha``, whose 0 turns the method off); each chain ``depth`` operations (their -1: 1 to 3, drawn per
chain), each drawn uniformly from the nine of ``_augmix_ops`` at a level ~ U(0.1, ``severity``), on the
uint8 picture after the crop and flip; the view is (1 - m) image + m sum_i w_i chain_i, normalised as the
clean batch is; the JSD term is the mean of the three KL(p_k || M) (``batchmean``), M the clamped mean of
the three softmaxes. Every draw is the trial's (one numpy block per batch), and the operations are
batched: one call per operation and chain step, whatever the batch size.

``jsd: false`` is their ``--no-jsd``: the AugMix view alone, with cross-entropy, at ERM's batch size.
Needs images, and the inputs' normalisation (``MixContext.normalisation``) to reach the pixels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError
from ._augmix_ops import OPERATIONS, apply_chains
from ._protocol import Draws, MixedBatch, MixMethod, Option
from ._registry import register_mix_method

MAX_RANDOM_DEPTH = 3  # the authors' mixture_depth -1: np.random.randint(1, 4)


def jensen_shannon(logits: Tensor, n: int) -> Tensor:
    """The authors' consistency term for logits of (clean, view 1, view 2), n rows each: the mean over the
    three of KL(p_k || M), M = clamp(mean p_k, 1e-7, 1), each KL summed over classes and averaged over n."""
    probabilities = [F.softmax(part, dim=1) for part in logits.float().split(n)]
    log_mixture = (sum(probabilities) / len(probabilities)).clamp(1e-7, 1).log()  # type: ignore[union-attr]
    return sum(F.kl_div(log_mixture, p, reduction="batchmean") for p in probabilities) / len(probabilities)  # type: ignore[return-value]


def augmix_views(
    pixels: Tensor, draws: Draws, views: int, alpha: float, width: int, depth: int, severity: int
) -> Tensor:
    """``views`` AugMix views of each image of ``pixels`` (N, C, H, W) in [0, 1]: (views * N, C, H, W) in
    [0, 1], view-major. The draws, per view and image: Dirichlet chain weights, m, chain depths, then per
    chain step an operation, a level and a sign."""
    n = len(pixels)
    rng = draws.numpy
    weights = torch.from_numpy(rng.dirichlet([alpha] * width, size=(views, n)).astype("float32"))
    m = torch.from_numpy(rng.beta(alpha, alpha, size=(views, n)).astype("float32"))
    steps = depth or MAX_RANDOM_DEPTH
    depths = (
        torch.from_numpy(rng.integers(1, MAX_RANDOM_DEPTH + 1, size=(views, n, width)))
        if depth == 0
        else torch.full((views, n, width), depth)
    )
    ops = torch.from_numpy(rng.integers(0, len(OPERATIONS), size=(views, n, width, steps)))
    levels = torch.from_numpy(rng.uniform(0.1, severity, size=(views, n, width, steps)).astype("float32"))
    signs = torch.from_numpy(rng.random(size=(views, n, width, steps)) > 0.5) * -2.0 + 1
    picture = (pixels.clamp(0, 1) * 255).round().to(torch.uint8)
    chains = (
        picture[None, :, None].expand(views, n, width, *picture.shape[1:]).reshape(-1, *picture.shape[1:])
    )
    chained = apply_chains(
        chains, ops.view(-1, steps), levels.view(-1, steps), signs.view(-1, steps), depths.flatten()
    ).view(views, n, width, *picture.shape[1:])
    device = pixels.device
    mixture = torch.einsum("vnk,vnk...->vn...", weights.to(device), chained.float() / 255)
    m = m.to(device).view(views, n, *([1] * (pixels.dim() - 1)))
    return ((1 - m) * pixels.float() + m * mixture).reshape(views * n, *pixels.shape[1:]).to(pixels.dtype)


@register_mix_method
class AugMix(MixMethod):
    name = "augmix"
    display_name = "AugMix"
    citation = (
        "Hendrycks, Mu, Cubuk, Zoph, Gilmer, Lakshminarayanan. AugMix: A Simple Data Processing Method to "
        "Improve Robustness and Uncertainty. ICLR 2020"
    )
    needs = frozenset({"images"})
    uses = ("alpha",)
    off = {"alpha": 0.0}
    options = {
        "severity": Option(3, low=1, high=10, doc="the operations' strength: levels ~ U(0.1, severity)"),
        "width": Option(3, low=1, high=16, doc="chains per view, mixed by Dirichlet weights"),
        "depth": Option(
            0, low=0, high=16, doc="operations per chain; 0 draws 1 to 3 per chain (the authors')"
        ),
        "jsd": Option(
            True, doc="the clean image and two views (3N) with the Jensen-Shannon loss; false: one view, CE"
        ),
        "jsd_weight": Option(12.0, low=0.0, doc="the Jensen-Shannon term's weight (the authors' 12)"),
    }

    def setup(self) -> None:
        if self.context.normalisation is None:
            raise ConfigError("mix.method", "augmix needs the inputs' normalisation, to mix in pixel space")
        self.mean, self.std = (part.to(self.context.device) for part in self.context.normalisation)

    def mix(self, x: Tensor, y: Tensor, draws: Draws) -> MixedBatch:
        options: Mapping[str, Any] = self.options  # the trial's values (the class declares Options)
        n = len(x)
        views = 2 if options["jsd"] else 1
        pixels = x.float() * self.std + self.mean
        augmented = augmix_views(
            pixels, draws, views, self.config.alpha, options["width"], options["depth"], options["severity"]
        )
        inputs = ((augmented - self.mean) / self.std).to(x.dtype)
        if views == 1:
            return MixedBatch.unmixed(inputs, y)
        smoothing, weight = self.config.label_smoothing, options["jsd_weight"]

        def loss(logits: Tensor) -> Tensor:
            clean = F.cross_entropy(logits[:n].float(), y, label_smoothing=smoothing)
            return clean + weight * jensen_shannon(logits, n)

        return MixedBatch(torch.cat([x, inputs]), (torch.cat([y, y, y]),), 1.0, loss=loss)
