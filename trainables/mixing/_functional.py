"""The arithmetic the mixing methods share: their draws from a trial's ``Draws``, blending, CutMix's boxes,
and the mixed cross-entropy in its definition and its faster forms.

The loss has one definition, ``mixup_cross_entropy``; the training step takes faster forms of it where the
draws allow (``one_lambda_cross_entropy``, ``soft_target_cross_entropy``), held equal to it by
tests/trainables/test_mixup.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ._protocol import Draws

Criterion = Callable[[Tensor], Tensor]  # the model's logits on a minibatch -> its mean loss


# Draws. Lambda comes from the numpy generator (torch's Beta sampler takes no generator), partners from the
# torch one; each function takes the same draws, in the same order, as the mixup sampler always did.


def beta_weights(draws: Draws, alpha: float, count: int) -> Tensor:
    """``count`` lambdas ~ Beta(alpha, alpha), float32, shape (count,)."""
    return torch.from_numpy(draws.numpy.beta(alpha, alpha, size=count).astype(np.float32))


def beta_weight(draws: Draws, alpha: float) -> float:
    """One lambda ~ Beta(alpha, alpha), rounded to float32 as the tensors' lambdas are, as a Python number."""
    return float(np.float32(draws.numpy.beta(alpha, alpha)))


def permutation(draws: Draws, size: int) -> Tensor:
    """A uniformly random permutation of ``range(size)``, on the CPU."""
    return torch.randperm(size, generator=draws.torch)


def pair_draws(draws: Draws, alpha: float, per_sample: bool, size: int) -> tuple[float | Tensor, Tensor]:
    """A batch's lambda (one float, or one per example, shape (size,)) and its partner permutation (CPU)."""
    weight: float | Tensor = beta_weights(draws, alpha, size) if per_sample else beta_weight(draws, alpha)
    return weight, permutation(draws, size)


def epoch_draws(
    draws: Draws, alpha: float, per_sample: bool, sizes: list[int]
) -> tuple[Tensor, list[Tensor]]:
    """A whole epoch's ``pair_draws`` at once, in batch order: one weight per example, and each batch's
    permutation. The same numbers as batch by batch: numpy's generator gives the same stream drawn in one
    call or many, and the permutations come after all lambdas from a generator of their own."""
    counts = sizes if per_sample else [1] * len(sizes)
    lam = draws.numpy.beta(alpha, alpha, size=sum(counts)).astype(np.float32)
    if not per_sample:
        lam = np.repeat(lam, sizes)
    return torch.from_numpy(lam), [permutation(draws, size) for size in sizes]


def simplex_weights(draws: Draws, alpha: float, k: int, per_sample: bool, size: int) -> Tensor:
    """Mixing weights, shape (size, k), rows summing to 1; column 0 is the example's own weight.

    k = 2 takes the same Beta draws as ``pair_draws``; above 2, Dirichlet(alpha, ..., alpha), whose two-way
    case is that Beta.
    """
    count = size if per_sample else 1
    drawn: np.ndarray
    if k == 2:
        lam = draws.numpy.beta(alpha, alpha, size=count).astype(np.float32)
        drawn = np.stack([lam, 1 - lam], axis=1)  # 1 - lam in float32, as the two-way loss takes it
    else:
        drawn = draws.numpy.dirichlet([alpha] * k, size=count)
    return torch.from_numpy(drawn.astype(np.float32)).expand(size, k)


def same_label_permutation(draws: Draws, y: Tensor) -> Tensor:
    """A random permutation that maps every example to one of the same label (itself, if its label is alone).

    Sorting by label plus a random key in [0, 1) lists each label's examples together in random order; two
    such sorts, paired position by position, pair examples within each label. No loop over examples or
    labels.
    """
    keys = [
        y.double() + torch.rand(len(y), generator=draws.torch, dtype=torch.float64).to(y.device)
        for _ in range(2)
    ]
    own, partner = (torch.argsort(key) for key in keys)
    result = torch.empty_like(own)
    result[own] = partner
    return result


# Blending and boxes.


def mix_inputs(x: Tensor, lam: Tensor, perm: Tensor) -> Tensor:
    """lam * x + (1 - lam) * x[perm], lam broadcast over all but the batch dimension."""
    lam = lam.to(device=x.device, dtype=x.dtype).view(-1, *([1] * (x.dim() - 1)))
    return torch.lerp(x[perm], x, lam)


def blend(h: Tensor, weight: float | Tensor, perm: Tensor) -> Tensor:
    """``mix_inputs`` for one lambda as a Python number (one fused lerp) or one per example."""
    return torch.lerp(h[perm], h, weight) if isinstance(weight, float) else mix_inputs(h, weight, perm)


def mix_many(xs: list[Tensor], weights: Tensor) -> Tensor:
    """sum_j weights[:, j] * xs[j]: the k-way form of ``mix_inputs``."""
    weights = weights.to(device=xs[0].device, dtype=xs[0].dtype)
    shape = (-1, *([1] * (xs[0].dim() - 1)))
    return sum((weights[:, j].view(shape) * x for j, x in enumerate(xs)), torch.zeros_like(xs[0]))


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


def box_masks(
    size: tuple[int, int], boxes: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], device: torch.device
) -> Tensor:
    """(len(top), H, W), True inside each box; ``boxes`` are (top, bottom, left, right), one entry per box."""
    h, w = size
    top, bottom, left, right = (torch.as_tensor(b, device=device)[:, None] for b in boxes)
    rows, cols = torch.arange(h, device=device), torch.arange(w, device=device)
    return ((rows >= top) & (rows < bottom))[:, :, None] & ((cols >= left) & (cols < right))[:, None, :]


def one_box(size: tuple[int, int], lam: float, row: int, col: int) -> tuple[int, int, int, int, float]:
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


# The loss.


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
