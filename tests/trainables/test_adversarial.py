"""FGSM and I-FGSM: perturbations stay in bounds, use the true labels, and hurt a trained model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from trainables import TrainConfig, Trial, train
from trainables.adversarial import craft, fgsm, ifgsm, topk_error


@pytest.fixture(scope="module")
def trained() -> Trial:
    trial = Trial(TrainConfig(dataset="digits", model="cnn", epochs=1, device="cpu"))
    for _ in range(6):
        trial.train_epoch()
    return trial


def test_perturbations_stay_within_epsilon_and_the_unit_range(trained: Trial) -> None:
    x, y = trained.attack_subset()
    for adversarial in (
        fgsm(trained.forward_unit_range, x, y, 0.1),
        ifgsm(trained.forward_unit_range, x, y, 0.1),
    ):
        assert (adversarial - x).abs().max() <= 0.1 + 1e-6
        assert adversarial.min() >= 0 and adversarial.max() <= 1
        assert not torch.equal(adversarial, x)


def test_attacks_raise_the_loss_and_iterating_is_stronger(trained: Trial) -> None:
    x, y = trained.attack_subset()
    examples = craft(trained.forward_unit_range, x, y, 0.1)
    with torch.no_grad():
        loss = {
            name: F.cross_entropy(trained.forward_unit_range(batch), y).item()
            for name, batch in {"clean": x, **examples}.items()
        }
    assert loss["clean"] < loss["fgsm"] < loss["ifgsm"]
    error = {
        name: topk_error(trained.forward_unit_range, batch, y, 1)
        for name, batch in {"clean": x, **examples}.items()
    }
    assert error["clean"] < error["fgsm"] <= error["ifgsm"]


def test_topk_error_counts_labels_outside_the_top_k() -> None:
    logits = torch.tensor([[3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 2.0, 3.0]])
    model = lambda x: logits
    y = torch.tensor([1, 1])
    assert topk_error(model, torch.zeros(2, 1), y, 1) == 100.0
    assert topk_error(model, torch.zeros(2, 1), y, 2) == 50.0
    assert topk_error(model, torch.zeros(2, 1), y, 3) == 0.0


def test_the_attacked_subset_is_fixed_and_uses_true_test_labels() -> None:
    a = Trial(TrainConfig(dataset="digits", seed=0, label_noise=0.5, adversarial_examples=100))
    b = Trial(TrainConfig(dataset="digits", seed=7, adversarial_examples=100))
    (xa, ya), (xb, yb) = a.attack_subset(), b.attack_subset()
    assert torch.equal(xa, xb) and torch.equal(ya, yb) and len(ya) == 100
    assert set(ya.tolist()) <= set(a.y_test.tolist())


def test_white_box_metrics_come_with_the_last_epoch_only() -> None:
    history = train(
        TrainConfig(dataset="digits", model="cnn", epochs=2, adversarial=True, adversarial_examples=64)
    ).history
    assert "white_box_fgsm_error" not in history[0]
    assert {
        "white_box_fgsm_error",
        "white_box_ifgsm_error",
        "white_box_fgsm_error_top5",
        "white_box_ifgsm_error_top5",
    } <= set(history[1])
    iris = train(TrainConfig(dataset="iris", epochs=1, adversarial=True)).history[-1]
    assert "white_box_fgsm_error" in iris and "white_box_fgsm_error_top5" not in iris  # 3 classes: no top-5
