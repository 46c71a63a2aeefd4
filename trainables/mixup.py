"""mixup (Zhang et al., ICLR 2018, Section 2), with every draw from a seeded generator.

x~ = lam * x_i + (1 - lam) * x_j with j a random permutation of the minibatch,
and the loss lam * CE(f(x~), y_i) + (1 - lam) * CE(f(x~), y_j), which equals
cross-entropy against the mixed one-hot target.

Section 2 also names three alternatives, here as options: k-way mixing with
Dirichlet(alpha, ..., alpha) weights, partners from a second data loader, and
mixing only examples of equal label (the paper's ablation). They go through
``mix_many`` and ``mixup_cross_entropy``, the general form of the two above.

CutMix (Yun et al., 2019) pastes a box of the partner into each image instead
of blending them, with lambda corrected to the area left (``cutmix_boxes``,
held equal to torchvision's ``v2.CutMix``). ``mix_prob`` leaves some batches
unmixed and ``mix_switch_prob`` sends some of mixup's to CutMix, as timm's
``Mixup`` does; both draw from the same seeded generator as lambda.

The loss has one definition, ``mixup_cross_entropy``; the training loop takes
faster forms of it where the draws allow (``one_lambda_cross_entropy``,
``soft_target_cross_entropy``), held equal to it by tests/trainables/test_mixup.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

Criterion = Callable[[Tensor], Tensor]  # the model's logits on a minibatch -> its mean loss


class MixupSampler:
    """Draws lambda ~ Beta(alpha, alpha) and the partner permutation.

    Lambda comes from a numpy ``Generator`` because torch's Beta sampler cannot
    take a generator; the permutation from a torch ``Generator``. Both states
    go into checkpoints (``state_dict``), which the authors' code did not do.
    """

    def __init__(
        self,
        alpha: float,
        lambda_per: str,
        seed: int,
        k: int = 2,
        smoothing: float = 0.0,
        method: str = "mixup",
        mix_prob: float = 1.0,
        switch_prob: float = 0.0,
    ) -> None:
        self.alpha = float(alpha)
        self.k = k  # examples per mixed input
        self.smoothing = smoothing  # label smoothing of the targets the batch's loss is taken against
        self.method, self.mix_prob, self.switch_prob = method, mix_prob, switch_prob
        self.per_sample = lambda_per == "sample"
        lambda_seed, perm_seed = np.random.SeedSequence(seed).generate_state(2)
        self.lambda_rng = np.random.default_rng(int(lambda_seed))
        self.perm_gen = torch.Generator().manual_seed(int(perm_seed))

    @property
    def mixes(self) -> bool:
        return self.alpha > 0

    def sample(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """Lambda, shape (batch_size,) (one value repeated unless per-sample), and the permutation."""
        count = batch_size if self.per_sample else 1
        lam = torch.from_numpy(self.lambda_rng.beta(self.alpha, self.alpha, size=count).astype(np.float32))
        perm = torch.randperm(batch_size, generator=self.perm_gen)
        return lam.expand(batch_size), perm

    def sample_one(self, batch_size: int) -> tuple[float, Tensor]:
        """One lambda for the whole batch, as a Python number (the same draws as ``sample``), and the
        permutation."""
        lam = float(np.float32(self.lambda_rng.beta(self.alpha, self.alpha)))
        return lam, torch.randperm(batch_size, generator=self.perm_gen)

    def plan(self, batch_sizes: list[int]) -> tuple[Tensor, list[Tensor]]:
        """A whole epoch's draws at once, in batch order: one weight per example, and each batch's
        permutation.

        The same draws, in the same order, as calling ``sample`` once per batch:
        numpy's generator gives the same stream drawn in one call or many.
        """
        counts = batch_sizes if self.per_sample else [1] * len(batch_sizes)
        lam = self.lambda_rng.beta(self.alpha, self.alpha, size=sum(counts)).astype(np.float32)
        if not self.per_sample:
            lam = np.repeat(lam, batch_sizes)
        return torch.from_numpy(lam), [torch.randperm(size, generator=self.perm_gen) for size in batch_sizes]

    def weights(self, batch_size: int) -> Tensor:
        """Mixing weights, shape (batch_size, k), rows summing to 1; column 0 is the example's own weight.

        k = 2 takes the same Beta draws as ``sample``; above 2, Dirichlet(alpha, ..., alpha),
        whose two-way case is that Beta.
        """
        count = batch_size if self.per_sample else 1
        drawn: np.ndarray
        if self.k == 2:
            lam = self.lambda_rng.beta(self.alpha, self.alpha, size=count).astype(np.float32)
            drawn = np.stack([lam, 1 - lam], axis=1)  # 1 - lam in float32, as the two-way loss takes it
        else:
            drawn = self.lambda_rng.dirichlet([self.alpha] * self.k, size=count)
        return torch.from_numpy(drawn.astype(np.float32)).expand(batch_size, self.k)

    def permutation(self, size: int) -> Tensor:
        return torch.randperm(size, generator=self.perm_gen)

    def same_label_permutation(self, y: Tensor) -> Tensor:
        """A random permutation that maps every example to one of the same label (itself, if its label is
        alone).

        Sorting by label plus a random key in [0, 1) lists each label's examples
        together in random order; two such sorts, paired position by position,
        pair examples within each label. No loop over examples or labels.
        """
        keys = [
            y.double() + torch.rand(len(y), generator=self.perm_gen, dtype=torch.float64).to(y.device)
            for _ in range(2)
        ]
        own, partner = (torch.argsort(key) for key in keys)
        permutation = torch.empty_like(own)
        permutation[own] = partner
        return permutation

    def batch_method(self) -> str | None:
        """How this batch is mixed: ``None`` (unmixed, with probability 1 - mix_prob), mixup or cutmix.

        The coins are drawn only when ``mix_prob`` < 1 or ``mix_switch_prob`` > 0, so that the paper's
        method draws exactly what it always drew.
        """
        if self.mix_prob < 1 and self.lambda_rng.random() >= self.mix_prob:
            return None
        if self.switch_prob > 0:
            return "cutmix" if self.lambda_rng.random() < self.switch_prob else "mixup"
        return self.method

    def mix_batch(
        self, x: Tensor, y: Tensor, layers: list[nn.Module] | None = None
    ) -> tuple[Tensor, Criterion]:
        """A minibatch mixed with a permutation of itself (Section 2), or CutMix's boxes of it: the mixed
        inputs, and the loss of the logits on them.

        With alpha = 0 the inputs are ``x`` and the loss plain cross-entropy: exact ERM, for every method.
        """
        eps = self.smoothing
        method = self.batch_method() if self.mixes else None
        if method is None:
            return x, erm_loss(y, eps)
        if method == "cutmix":
            return self.cutmix_batch(x, y)
        if method == "manifold_mixup":
            layer = int(self.lambda_rng.integers(len(layers or []) + 1))  # 0: the input, as mixup
            if layer > 0:
                return self.manifold_batch(x, y, (layers or [])[layer - 1])
        mix, loss = self.mixup_draw(x, y)
        return mix(x), loss

    def mixup_draw(self, x: Tensor, y: Tensor) -> tuple[Callable[[Tensor], Tensor], Criterion]:
        """One batch's mixup: how to mix a tensor of the batch (its inputs, or a hidden state) with its
        partners, and the loss of the logits; lambda per batch (the paper's default) or per example."""
        eps = self.smoothing
        if self.per_sample:
            lam, perm = self.sample(len(x))
            perm = perm.to(x.device, non_blocking=True)
            weights = torch.stack([lam, 1 - lam], dim=1)
            return lambda h: mix_inputs(h, lam, perm), lambda logits: mixup_cross_entropy(
                logits, [y, y[perm]], weights, eps
            )
        weight, perm = self.sample_one(len(x))
        perm = perm.to(x.device, non_blocking=True)
        partner = y[perm]
        return lambda h: torch.lerp(h[perm], h, weight), lambda logits: one_lambda_cross_entropy(
            logits, y, partner, weight, eps
        )

    def manifold_batch(self, x: Tensor, y: Tensor, layer: nn.Module) -> tuple[Tensor, Criterion]:
        """Manifold Mixup: the batch as it is, and a one-shot hook that mixes ``layer``'s output in the
        training step's forward pass (the same lambdas and partners as mixup's); the loss is mixup's."""
        mix, loss = self.mixup_draw(x, y)

        def mix_once(module: nn.Module, inputs: Any, output: Tensor) -> Tensor:
            handle.remove()  # this forward pass only
            return mix(output)

        handle = layer.register_forward_hook(mix_once)
        return x, loss

    def cutmix_batch(self, x: Tensor, y: Tensor) -> tuple[Tensor, Criterion]:
        """CutMix: into each image, the box of its partner's (one box per batch, or one per image with
        ``lambda_per: sample``); the loss weights each label by the area it holds."""
        n, _, h, w = x.shape
        count = n if self.per_sample else 1
        lam = torch.from_numpy(self.lambda_rng.beta(self.alpha, self.alpha, size=count).astype(np.float32))
        rows, cols = (torch.randint(side, (count,), generator=self.perm_gen) for side in (h, w))
        perm = torch.randperm(n, generator=self.perm_gen).to(x.device, non_blocking=True)
        partner, eps = y[perm], self.smoothing
        if self.per_sample:
            inside, kept = cutmix_boxes((h, w), lam, rows, cols, x.device)
            mixed = torch.where(inside[:, None], x[perm], x)
            weights = torch.stack([kept, 1 - kept], dim=1)
            return mixed, lambda logits: mixup_cross_entropy(logits, [y, partner], weights, eps)
        # One box for the batch: the same box as cutmix_boxes, pasted by slicing, in three operations
        # rather than a mask's dozen (on a small model those operations are CutMix's whole cost).
        top, bottom, left, right, weight = _one_box((h, w), float(lam[0]), int(rows[0]), int(cols[0]))
        mixed = x.clone()
        mixed[:, :, top:bottom, left:right] = x[perm, :, top:bottom, left:right]
        return mixed, lambda logits: one_lambda_cross_entropy(logits, y, partner, weight, eps)

    def state_dict(self) -> dict[str, Any]:
        return {"lambda_rng": self.lambda_rng.bit_generator.state, "perm_gen": self.perm_gen.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lambda_rng.bit_generator.state = state["lambda_rng"]
        self.perm_gen.set_state(state["perm_gen"])


def cutmix_boxes(
    size: tuple[int, int], lam: Tensor, rows: Tensor, cols: Tensor, device: torch.device | None = None
) -> tuple[Tensor, Tensor]:
    """CutMix's boxes, as torchvision's ``v2.CutMix`` and timm's ``rand_bbox`` place them: for each lambda,
    sides sqrt(1 - lam) times the image's, centred at (``rows``, ``cols``), clipped at the borders.

    Returns the masks, shape (len(lam), H, W), True inside each box, and the lambda each box leaves:
    1 - its clipped area over the image's (timm's ``correct_lam``), so that the loss weights the labels
    by the pixels they hold.
    """
    h, w = size
    lam, rows, cols = (t.to(device) for t in (lam, rows, cols))  # the masks are built where the batch is
    half = 0.5 * torch.sqrt(1 - lam.double())  # float64, as torchvision's Python floats
    half_h, half_w = (half * h).long(), (half * w).long()  # truncated, as int()
    top, bottom = (rows - half_h).clamp(min=0), (rows + half_h).clamp(max=h)
    left, right = (cols - half_w).clamp(min=0), (cols + half_w).clamp(max=w)
    along_h, along_w = torch.arange(h, device=device), torch.arange(w, device=device)
    in_rows = (along_h >= top[:, None]) & (along_h < bottom[:, None])
    in_cols = (along_w >= left[:, None]) & (along_w < right[:, None])
    kept = 1 - ((bottom - top) * (right - left)).double() / (h * w)
    return in_rows[:, :, None] & in_cols[:, None, :], kept.float()


def _one_box(size: tuple[int, int], lam: float, row: int, col: int) -> tuple[int, int, int, int, float]:
    """``cutmix_boxes`` for one lambda, in Python numbers: top, bottom, left, right, and the lambda left
    (in float32, as the masks' version gives it)."""
    h, w = size
    half = 0.5 * math.sqrt(1 - lam)
    half_h, half_w = int(half * h), int(half * w)
    top, bottom, left, right = (
        max(row - half_h, 0),
        min(row + half_h, h),
        max(col - half_w, 0),
        min(col + half_w, w),
    )
    return top, bottom, left, right, float(np.float32(1 - (bottom - top) * (right - left) / (h * w)))


def mix_inputs(x: Tensor, lam: Tensor, perm: Tensor) -> Tensor:
    """lam * x + (1 - lam) * x[perm], lam broadcast over all but the batch dimension."""
    lam = lam.to(device=x.device, dtype=x.dtype).view(-1, *([1] * (x.dim() - 1)))
    return torch.lerp(x[perm], x, lam)


def mix_many(xs: list[Tensor], weights: Tensor) -> Tensor:
    """sum_j weights[:, j] * xs[j]: the k-way form of ``mix_inputs``."""
    weights = weights.to(device=xs[0].device, dtype=xs[0].dtype)
    shape = (-1, *([1] * (xs[0].dim() - 1)))
    return sum((weights[:, j].view(shape) * x for j, x in enumerate(xs)), torch.zeros_like(xs[0]))


def erm_loss(y: Tensor, smoothing: float = 0.0) -> Criterion:
    """Plain cross-entropy against ``y`` (label-smoothed by ``smoothing``): the loss of an unmixed
    minibatch."""
    if smoothing:
        return lambda logits: F.cross_entropy(logits, y, label_smoothing=smoothing)
    return lambda logits: F.cross_entropy(logits, y)


def mixup_cross_entropy(logits: Tensor, ys: list[Tensor], weights: Tensor, smoothing: float = 0.0) -> Tensor:
    """mixup's loss, the definition: the mean over the batch of sum_j weights[:, j] * CE(logits, ys[j]).

    Two-way (the paper's), ``ys = [y, y[perm]]`` and ``weights = [lam, 1 - lam]``:
    lam * CE(y_i) + (1 - lam) * CE(y_perm(i)), the cross-entropy against the mixed one-hot target.
    With label smoothing eps, each one-hot target becomes (1 - eps) one-hot + eps / K; the weights sum
    to 1, so that adds eps times the mean over classes of -log p.
    """
    log_probs = F.log_softmax(logits.float(), dim=1)
    weights = weights.to(device=logits.device, dtype=torch.float32)
    nll = torch.stack([-log_probs.gather(1, y[:, None]).squeeze(1) for y in ys], dim=1)
    if smoothing:
        return ((1 - smoothing) * (weights * nll).sum(1) - smoothing * log_probs.mean(1)).mean()
    return (weights * nll).sum(1).mean()


# Faster forms of the same loss, for the draws that allow them (tests/trainables/test_mixup.py holds each
# equal to the definition).


def one_lambda_cross_entropy(
    logits: Tensor, y: Tensor, partner: Tensor, weight: float, smoothing: float = 0.0
) -> Tensor:
    """One lambda for the whole batch, as a Python number: weight * CE(y) + (1 - weight) * CE(partner), two
    fused NLL means.

    Half the small operations of the definition; on a tiny model those operations
    are what mixup costs (benchmarks/mixup_overhead.py).
    """
    log_probs = F.log_softmax(logits.float(), dim=1)
    mixed = weight * F.nll_loss(log_probs, y) + (1 - weight) * F.nll_loss(log_probs, partner)
    if smoothing:
        return (1 - smoothing) * mixed - smoothing * log_probs.mean()
    return mixed


def soft_target_cross_entropy(logits: Tensor, targets: Tensor, smoothing: float = 0.0) -> Tensor:
    """Against mixed one-hot targets t = w * onehot(y) + (1 - w) * onehot(y_partner): -sum(t * log p), the
    definition's value.

    For an epoch mixed at once, whose targets are built once with the inputs.
    """
    return F.cross_entropy(logits.float(), targets, label_smoothing=smoothing)


def training_loss(model: nn.Module, x: Tensor, y: Tensor, sampler: MixupSampler) -> Tensor:
    """The loss of one minibatch mixed by ``sampler`` (``MixupSampler.mix_batch``). With alpha = 0, exact
    ERM."""
    inputs, criterion = sampler.mix_batch(x, y)
    return criterion(model(inputs))
