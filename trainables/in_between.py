"""Figure 2: how a trained model behaves between training examples.

At x = lam * x_i + (1 - lam) * x_j for random pairs of training examples, the
miss rate is the share of predictions that are neither y_i nor y_j, and the
gradient norm is that of the mixed loss lam * CE(y_i) + (1 - lam) * CE(y_j)
with respect to the input (on the [0, 1] scale). The paper finds mixup lower on
both. Labels are the true ones, not the corrupted ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .normalise import as_unit_range
from .tasks.classify import Trial

PAIR_SEED = 0  # the same pairs for every model trained on the same data


def in_between(
    trial: Trial, lambdas: Sequence[float], pairs: int = 1000, batch: int = 500
) -> list[dict[str, float]]:
    """One row per lambda: ``lambda``, ``miss_rate`` (%), ``gradient_norm`` (mean over pairs)."""
    generator = torch.Generator().manual_seed(PAIR_SEED)
    n = len(trial.y_train_true)
    first = torch.randint(n, (pairs,), generator=generator).to(trial.device)
    second = torch.randint(n, (pairs,), generator=generator).to(trial.device)
    rows = []
    for lam in lambdas:
        missed, norm_sum = 0, 0.0
        for start in range(0, pairs, batch):
            i, j = first[start : start + batch], second[start : start + batch]
            y_i, y_j = trial.y_train_true[i], trial.y_train_true[j]
            x = (
                lam * as_unit_range(trial.x_train[i]) + (1 - lam) * as_unit_range(trial.x_train[j])
            ).requires_grad_(True)
            with torch.enable_grad():
                logits = trial.forward_unit_range(x)
                loss = lam * F.cross_entropy(logits, y_i, reduction="sum") + (1 - lam) * F.cross_entropy(
                    logits, y_j, reduction="sum"
                )
                (gradient,) = torch.autograd.grad(loss, x)
            predicted = logits.argmax(1)
            missed += int(((predicted != y_i) & (predicted != y_j)).sum())
            norm_sum += float(gradient.flatten(1).norm(dim=1).sum())
        rows.append(
            {"lambda": float(lam), "miss_rate": 100.0 * missed / pairs, "gradient_norm": norm_sum / pairs}
        )
    return rows
