"""How well a classifier's confidence matches its accuracy, on unmixed test data (Guo et al., 2017).

- ``test_ece``: expected calibration error over ``BINS`` equal-width bins of top-1 confidence,
  sum_b (n_b / N) |accuracy_b - confidence_b|, in percent;
- ``test_nll``: the mean negative log-likelihood of the true labels, in nats;
- ``test_confidence``: the mean top-1 confidence, in percent.

Bin b holds the confidences in (b / BINS, (b + 1) / BINS]: Guo et al.'s bins, and torchmetrics'
(tests/trainables/test_regularisers.py holds the two equal). Each evaluation's bins are reported
beside the metrics (``Reliability``), so that reliability diagrams are drawn from what MLflow
recorded.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

BINS = 15  # equal-width confidence bins, as Guo et al. and Thulasidasan et al. (2019) use
# Per bin: the examples, their summed top-1 confidence, and how many of them were right.
Reliability = dict[str, list[float]]


def example_scores(logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Each example's top-1 confidence, whether its top-1 class is right, and its NLL: all ``calibration``
    needs, so that a streamed test set is scored batch by batch."""
    log_probs = F.log_softmax(logits.float(), dim=1)
    top, predicted = log_probs.max(1)
    nll = -log_probs.gather(1, labels[:, None]).squeeze(1)
    return top.exp(), (predicted == labels).float(), nll


def summarise(confidence: Tensor, right: Tensor, nll: Tensor) -> tuple[dict[str, float], Reliability]:
    """The three metrics and the reliability bins, from every example's scores, in a few batched
    operations."""
    # (b / BINS, (b + 1) / BINS] -> b; a confidence of exactly 0 cannot occur (softmax is positive)
    index = (confidence * BINS).ceil().long().clamp(1, BINS) - 1
    # One-hot sums, not index_add_ or bincount (no deterministic CUDA kernel for those): the same sums.
    members = F.one_hot(index, BINS).double()
    counts, confidence_sums, right_sums = (
        (members * values.double()[:, None]).sum(0)
        for values in (torch.ones_like(confidence), confidence, right)
    )
    total = max(len(confidence), 1)
    metrics = {
        "test_ece": 100.0 * float((right_sums - confidence_sums).abs().sum()) / total,
        "test_nll": float(nll.double().mean()),
        "test_confidence": 100.0 * float(confidence.double().mean()),
    }
    bins = {
        "count": counts.tolist(),
        "confidence_sum": confidence_sums.tolist(),
        "correct_sum": right_sums.tolist(),
    }
    return metrics, bins


def calibration(logits: Tensor, labels: Tensor) -> tuple[dict[str, float], Reliability]:
    """``test_ece``, ``test_nll`` and ``test_confidence`` of the logits, and their reliability bins."""
    return summarise(*example_scores(logits, labels))
