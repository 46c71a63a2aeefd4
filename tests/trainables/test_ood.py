"""OOD scores and measures (issue 31) against scikit-learn's, ties included."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from trainables.ood import aupr_in, auroc, fpr_at_tpr, ood_metrics, ood_score


def _sklearn(inside: torch.Tensor, outside: torch.Tensor) -> tuple[float, float, float]:
    truth = np.r_[np.ones(len(inside)), np.zeros(len(outside))]
    scores = np.r_[inside.numpy(), outside.numpy()]
    fpr, tpr, _ = roc_curve(truth, scores, drop_intermediate=False)
    return (
        roc_auc_score(truth, scores),
        average_precision_score(truth, scores),
        float(fpr[np.searchsorted(tpr, 0.95, side="left")]),
    )


@pytest.mark.parametrize("rounded", [False, True])
def test_auroc_aupr_and_fpr95_equal_scikit_learns(rounded: bool) -> None:
    generator = torch.Generator().manual_seed(0)
    for shift in (0.0, 0.5, 2.0):
        inside = torch.randn(300, generator=generator, dtype=torch.float64) + shift
        outside = torch.randn(200, generator=generator, dtype=torch.float64)
        if rounded:  # many ties, within and across the two sets
            inside, outside = inside.round(decimals=1), outside.round(decimals=1)
        expected = _sklearn(inside, outside)
        ours = (auroc(inside, outside), aupr_in(inside, outside), fpr_at_tpr(inside, outside))
        assert ours == pytest.approx(expected, abs=1e-12)


def test_the_scores_are_msp_max_logit_and_energy() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.1, 0.2, 0.3]])
    assert ood_score(logits, "msp").tolist() == pytest.approx(
        torch.softmax(logits.double(), 1).amax(1).tolist()
    )
    assert ood_score(logits, "max_logit").tolist() == [2.0, pytest.approx(0.3)]
    assert ood_score(logits, "energy")[0].item() == pytest.approx(math.log(math.exp(2) + 1 + math.exp(-1)))
    with pytest.raises(ValueError, match="unknown OOD score 'odin'"):
        ood_score(logits, "odin")


def test_a_confident_model_separates_noise_by_every_score() -> None:
    generator = torch.Generator().manual_seed(1)
    inside = torch.randn(500, 10, generator=generator)
    inside[torch.arange(500), torch.randint(10, (500,), generator=generator)] += (
        6  # confident on the test set
    )
    outside = torch.randn(500, 10, generator=generator)  # unsure on noise
    metrics = ood_metrics(inside, outside)
    assert len(metrics) == 9
    for score in ("msp", "max_logit", "energy"):
        assert metrics[f"ood_{score}_auroc"] > 95 and metrics[f"ood_{score}_fpr95"] < 20
    swapped = ood_metrics(outside, inside)
    assert swapped["ood_msp_auroc"] < 5
