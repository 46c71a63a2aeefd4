"""Out-of-distribution detection from a classifier's logits (issue 31): three scores, each higher for an
input the model takes to be in-distribution, and the three usual measures of how well a score separates
the test set (in) from another dataset (out).

Scores: the maximum softmax probability (Hendrycks & Gimpel, 2017), the maximum logit (Hendrycks et al.,
2022), and the negative energy, logsumexp of the logits (Liu et al., 2020). Measures, with "in" the
positive class: AUROC; AUPR, the average precision with "in" positive (AUPR-In); and the false-positive
rate at 95% true-positive rate, the share of out-of-distribution inputs scored at or above the threshold
that keeps 95% of the in-distribution ones. Ties count half in AUROC, as the Mann-Whitney statistic does;
``tests/trainables/test_ood.py`` holds each to scikit-learn's ``roc_auc_score``,
``average_precision_score`` and ``roc_curve``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

SCORES = ("msp", "max_logit", "energy")
TPR = 0.95


def ood_score(logits: Tensor, score: str) -> Tensor:
    """Each example's score (higher: more in-distribution), in double precision."""
    values = logits.double()
    if score == "msp":
        return F.softmax(values, dim=1).amax(1)
    if score == "max_logit":
        return values.amax(1)
    if score == "energy":
        return torch.logsumexp(values, dim=1)
    raise ValueError(f"unknown OOD score {score!r}: one of {', '.join(SCORES)}")


def auroc(inside: Tensor, outside: Tensor) -> float:
    """P(an in-distribution score exceeds an out-of-distribution one) + P(equal) / 2, from ranks."""
    scores = torch.cat([inside, outside]).double()
    ranks = _average_ranks(scores)
    n_in, n_out = len(inside), len(outside)
    if not n_in or not n_out:
        return math.nan
    u = float(ranks[:n_in].sum()) - n_in * (n_in + 1) / 2
    return u / (n_in * n_out)


def aupr_in(inside: Tensor, outside: Tensor) -> float:
    """The average precision with in-distribution as the positive class: sum over the distinct thresholds,
    from the highest, of precision times the recall gained."""
    scores = torch.cat([inside, outside]).double()
    positive = torch.cat([torch.ones(len(inside)), torch.zeros(len(outside))]).double()
    order = torch.argsort(scores, descending=True, stable=True)
    scores, positive = scores[order], positive[order]
    true_pos, seen = torch.cumsum(positive, 0), torch.arange(1, len(scores) + 1, dtype=torch.float64)
    last_of_tie = torch.ones(len(scores), dtype=torch.bool)
    last_of_tie[:-1] = scores[1:] != scores[:-1]  # precision and recall at each distinct threshold
    precision = (true_pos / seen)[last_of_tie]
    recall = (true_pos / max(len(inside), 1))[last_of_tie]
    gained = torch.diff(recall, prepend=torch.zeros(1, dtype=torch.float64))
    return float((precision * gained).sum())


def fpr_at_tpr(inside: Tensor, outside: Tensor, tpr: float = TPR) -> float:
    """The share of out-of-distribution scores at or above the highest threshold at which at least ``tpr``
    of the in-distribution scores are at or above it."""
    ranked = torch.sort(inside.double(), descending=True).values
    threshold = ranked[max(math.ceil(tpr * len(ranked)) - 1, 0)]
    return float((outside.double() >= threshold).double().mean())


def ood_metrics(inside_logits: Tensor, outside_logits: Tensor) -> dict[str, float]:
    """``ood_{score}_{auroc,aupr,fpr95}`` for every score, in percent."""
    metrics = {}
    for score in SCORES:
        inside, outside = ood_score(inside_logits, score), ood_score(outside_logits, score)
        metrics[f"ood_{score}_auroc"] = 100 * auroc(inside, outside)
        metrics[f"ood_{score}_aupr"] = 100 * aupr_in(inside, outside)
        metrics[f"ood_{score}_fpr95"] = 100 * fpr_at_tpr(inside, outside)
    return metrics


def _average_ranks(values: Tensor) -> Tensor:
    """1-based ranks, ties given their mean rank (scipy's ``rankdata`` 'average')."""
    order = torch.argsort(values, stable=True)
    ordered = values[order]
    starts = torch.ones(len(values), dtype=torch.bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    group = torch.cumsum(starts.long(), 0) - 1
    positions = torch.arange(1, len(values) + 1, dtype=torch.float64)
    sums = torch.zeros(int(group[-1]) + 1 if len(values) else 0, dtype=torch.float64).index_add_(
        0, group, positions
    )
    counts = torch.bincount(group).double()
    ranks = torch.empty(len(values), dtype=torch.float64)
    ranks[order] = (sums / counts)[group]
    return ranks


__all__ = ["SCORES", "aupr_in", "auroc", "fpr_at_tpr", "ood_metrics", "ood_score"]
