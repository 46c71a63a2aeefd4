"""Calibration beyond top-1 ECE, and temperature scaling (issue 31): each a function of a test set's logits
and labels, for the trial to report and the analysis to read.

- ``adaptive_ece``: ECE over equal-mass bins of top-1 confidence (Nguyen & O'Connor, 2015; Nixon et
  al., 2019), which no near-empty bin can dominate;
- ``classwise_ece``: the mean over classes of the ECE of each class's predicted probability against
  whether the example is of that class (Kull et al., 2019; Nixon et al.'s static calibration error);
- ``brier``: the multiclass Brier score, the mean over examples of sum_k (p_k - [y = k])^2 (Brier, 1950);
- ``fit_temperature``: the T > 0 that minimises the NLL of softmax(logits / T) on a held-out split
  (Guo et al., 2017), found by a bounded scalar search on log T; ``scaled`` applies it.

All in percent where ``trainables.calibration``'s ECE is, the Brier score and NLL as they are. Each is held
to a textbook loop in ``tests/trainables/test_calibration_scores.py``, the equal-width ECE (in
``trainables.calibration``) to torchmetrics.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .calibration import BINS

TEMPERATURE_RANGE = (0.05, 20.0)  # the search's bounds on T: far beyond what a trained network needs


def adaptive_ece(confidence: Tensor, right: Tensor, bins: int = BINS) -> float:
    """ECE, in percent, over ``bins`` bins of (nearly) equal count: the examples sorted by confidence and cut
    into ``bins`` runs whose sizes differ by at most one (``torch.tensor_split``'s rule)."""
    order = confidence.double().argsort(stable=True)
    total = max(len(confidence), 1)
    gap = sum(
        abs(float(right.double()[part].sum() - confidence.double()[part].sum()))
        for part in torch.tensor_split(order, bins)
        if len(part)
    )
    return 100.0 * gap / total


def classwise_ece(probabilities: Tensor, labels: Tensor, bins: int = BINS) -> float:
    """The mean over classes of each class's equal-width ECE (its probability against [y = k]), in percent."""
    p = probabilities.double()
    n, classes = p.shape
    truth = F.one_hot(labels, classes).double()
    index = (p * bins).ceil().long().clamp(1, bins) - 1  # (b / bins, (b + 1) / bins] -> b, as top-1 ECE
    difference = truth - p
    # per class, the sum over bins of |gap|: a bin at a time, not an (n, classes, bins) one-hot, which at
    # CIFAR-100's 10,000 test images is 120 MB every epoch
    gaps = sum(((index == b) * difference).sum(0).abs() for b in range(bins))
    return 100.0 * float(torch.as_tensor(gaps).mean()) / max(n, 1)


def brier(probabilities: Tensor, labels: Tensor) -> float:
    """The multiclass Brier score: mean over examples of the squared distance to the one-hot label."""
    truth = F.one_hot(labels, probabilities.shape[1]).double()
    return float(((probabilities.double() - truth) ** 2).sum(1).mean())


def nll(logits: Tensor, labels: Tensor, temperature: float = 1.0) -> float:
    """The mean negative log-likelihood of softmax(logits / temperature), in nats."""
    return float(F.cross_entropy(logits.double() / temperature, labels))


def fit_temperature(logits: Tensor, labels: Tensor) -> float:
    """The temperature that minimises the NLL of ``logits`` (a held-out split's) against ``labels``: a
    bounded scalar search over log T (scipy's Brent), in double precision. The NLL of a temperature is
    convex in 1 / T, so its minimum is the one minimum."""
    from scipy.optimize import minimize_scalar

    values, targets = logits.double(), labels
    low, high = (math.log(bound) for bound in TEMPERATURE_RANGE)
    result = minimize_scalar(
        lambda log_t: float(F.cross_entropy(values / math.exp(log_t), targets)),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(math.exp(result.x))


def scaled(logits: Tensor, temperature: float) -> Tensor:
    """``logits`` divided by ``temperature``: the same predictions, their confidence rescaled."""
    return logits / temperature


__all__ = ["adaptive_ece", "brier", "classwise_ece", "fit_temperature", "nll", "scaled"]
