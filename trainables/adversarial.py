"""FGSM and I-FGSM (Section 3.5), on inputs in [0, 1], always against the true labels.

Using the model's own predictions as labels ("label leaking") would make the
attacks look weaker than they are; every function here takes the true ``y``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

Model = Callable[[Tensor], Tensor]  # inputs in [0, 1] -> logits
IFGSM_STEPS = 10  # the paper: 10 iterations of equal size


def _input_gradient_sign(model: Model, x: Tensor, y: Tensor) -> Tensor:
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(model(x), y)
        (grad,) = torch.autograd.grad(loss, x)
    return grad.sign()


def fgsm(model: Model, x: Tensor, y: Tensor, epsilon: float) -> Tensor:
    """One step of size epsilon along the sign of the loss gradient, clipped to [0, 1]."""
    return (x + epsilon * _input_gradient_sign(model, x, y)).clamp(0, 1).detach()


def ifgsm(model: Model, x: Tensor, y: Tensor, epsilon: float, steps: int = IFGSM_STEPS) -> Tensor:
    """``steps`` FGSM steps of epsilon / steps, each kept within epsilon of x and within [0, 1]."""
    step = epsilon / steps
    adversarial = x.detach()
    for _ in range(steps):
        adversarial = adversarial + step * _input_gradient_sign(model, adversarial, y)
        adversarial = torch.min(torch.max(adversarial, x - epsilon), x + epsilon).clamp(0, 1).detach()
    return adversarial


@torch.no_grad()
def topk_error(model: Model, x: Tensor, y: Tensor, k: int, batch: int = 512) -> float:
    """Percent of examples whose true label is not among the k highest logits."""
    wrong = 0
    for start in range(0, len(x), batch):
        top = model(x[start : start + batch]).topk(k, dim=1).indices
        wrong += int((top != y[start : start + batch, None]).all(dim=1).sum())
    return 100.0 * wrong / max(len(x), 1)


def craft(model: Model, x: Tensor, y: Tensor, epsilon: float, batch: int = 256) -> dict[str, Tensor]:
    """FGSM and I-FGSM examples from ``model``, in batches."""
    chunks: dict[str, list[Tensor]] = {"fgsm": [], "ifgsm": []}
    for start in range(0, len(x), batch):
        xb, yb = x[start : start + batch], y[start : start + batch]
        chunks["fgsm"].append(fgsm(model, xb, yb, epsilon))
        chunks["ifgsm"].append(ifgsm(model, xb, yb, epsilon))
    return {name: torch.cat(parts) for name, parts in chunks.items()}


def attack_errors(
    model: Model, examples: dict[str, Tensor], y: Tensor, num_classes: int, prefix: str
) -> dict[str, float]:
    """Top-1 (and top-5 where there are more than 5 classes) error of ``model`` on each kind of example."""
    metrics = {}
    for name, x in examples.items():
        metrics[f"{prefix}_{name}_error"] = topk_error(model, x, y, 1)
        if num_classes > 5:
            metrics[f"{prefix}_{name}_error_top5"] = topk_error(model, x, y, 5)
    return metrics
