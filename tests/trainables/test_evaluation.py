"""What a trial measures beyond its errors (``TrainConfig.evaluation``): calibration with temperature
scaling each epoch, corrupted and out-of-distribution test sets after the last."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from trainables import ConfigError, TrainConfig, train
from trainables.calibration import calibration
from trainables.calibration_scores import adaptive_ece, fit_temperature
from trainables.image_corruptions import corrupt
from trainables.ood import ood_metrics
from trainables.tasks._evaluation import ADDED_KEYS, as_stored_images, calibration_metrics

pytestmark = pytest.mark.usefixtures("isolated_cache")


def _digits(**options: object) -> TrainConfig:
    return TrainConfig.from_dict(
        {"dataset": "digits", "model": "mlp", "epochs": 3, "device": "cpu", **options}
    )


def test_every_epoch_reports_calibration_and_with_a_validation_split_its_temperature_scaling() -> None:
    history = train(_digits(val_fraction=0.2, alpha=1.0)).history
    for epoch in history:
        assert set(ADDED_KEYS) <= epoch.keys()
        assert epoch["val_nll_scaled"] <= epoch["val_nll"] + 1e-12  # T minimises the validation NLL
        assert 0 <= epoch["test_ece_scaled"] <= 100 and 0 <= epoch["test_brier_scaled"] <= 2
    # mixup's targets make the network underconfident: scaling sharpens (T < 1)
    assert history[-1]["log_temperature"] < 0
    without_split = train(_digits(alpha=1.0)).final
    assert "test_brier" in without_split and "log_temperature" not in without_split
    off = train(_digits(val_fraction=0.2, evaluation={"calibration": False})).final
    assert not set(ADDED_KEYS) & off.keys() and "test_ece" in off


def test_the_scaled_metrics_are_the_metrics_of_the_logits_divided_by_the_fitted_temperature() -> None:
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 5, (600,), generator=generator)
    logits = 3 * (torch.randn(600, 5, generator=generator) + 2.5 * torch.nn.functional.one_hot(labels, 5))
    test, val = slice(0, 400), slice(400, 600)
    metrics = calibration_metrics(logits[test], labels[test], logits[val], labels[val])
    temperature = fit_temperature(logits[val], labels[val])
    assert metrics["log_temperature"] == pytest.approx(math.log(temperature))
    by_hand, _ = calibration(logits[test].double() / temperature, labels[test])
    assert metrics["test_ece_scaled"] == pytest.approx(by_hand["test_ece"])
    assert metrics["test_nll_scaled"] == pytest.approx(by_hand["test_nll"])
    probabilities = torch.softmax(logits[test].double() / temperature, 1)
    confidence, predicted = probabilities.max(1)
    expected = adaptive_ece(confidence, (predicted == labels[test]).double())
    assert metrics["test_adaptive_ece_scaled"] == pytest.approx(expected)
    assert (
        metrics["test_nll_scaled"] < by_hand["test_nll"] + 1e-9
        and metrics["val_nll_scaled"] < metrics["val_nll"]
    )


def test_corrupted_test_images_are_scored_after_the_last_epoch_only(colour_npz: Path) -> None:
    config = TrainConfig.from_dict(
        {
            "dataset": "npz",
            "data_path": str(colour_npz),
            "model": "cnn",
            "epochs": 2,
            "batch_size": 16,
            "device": "cpu",
            "evaluation": {"corruptions": ["contrast", "impulse_noise"], "severities": [1, 5]},
        }
    )
    first, last = train(config).history
    assert not any(key.startswith("corruption") for key in first)
    assert last["corruption/contrast/5_error"] >= 0 and last["corruption/impulse_noise_ece"] >= 0
    means = [last[f"corruption/{name}_error"] for name in ("contrast", "impulse_noise")]
    assert last["corruption_error"] == pytest.approx(sum(means) / 2)
    assert last["corruption_error_drop"] == pytest.approx(last["corruption_error"] - last["test_error"])
    # the severity-5 error is the model's error on the images corrupt() makes, one generator per image
    data = np.load(colour_npz)
    corrupted = corrupt(data["x_test"], "contrast", 5)
    assert not np.array_equal(corrupted, data["x_test"])
    again = train(config).final
    assert {k: v for k, v in again.items() if k.startswith("corruption")} == {
        k: v for k, v in last.items() if k.startswith("corruption")
    }


def test_the_noise_floor_and_another_dataset_as_out_of_distribution_sets(datasets_dir: Path) -> None:
    config = TrainConfig.from_dict(
        {
            "dataset": "fashion_mnist",
            "data_root": str(datasets_dir),
            "model": "cnn_narrow",
            "train_subset": 600,
            "test_subset": 300,
            "epochs": 2,
            "device": "cpu",
            "evaluation": {"ood": ["noise", "cifar10"], "ood_images": 200},
        }
    )
    final = train(config).final
    for name in ("noise", "cifar10"):
        for score in ("msp", "max_logit", "energy"):
            for measure in ("auroc", "aupr", "fpr95"):
                assert 0 <= final[f"ood/{name}/{score}_{measure}"] <= 100


def test_another_datasets_images_are_made_to_look_stored_like_the_trials() -> None:
    colour = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    grey = as_stored_images(colour, (1, 28, 28))
    assert grey.shape == (4, 1, 28, 28) and grey.dtype == torch.uint8
    same = as_stored_images(colour, (3, 32, 32))
    assert torch.equal(same, colour)
    assert as_stored_images(grey, (3, 28, 28)).shape == (4, 3, 28, 28)


def test_the_ood_measures_against_a_model_that_separates_perfectly() -> None:
    inside = torch.tensor([[9.0, 0.0], [0.0, 8.0]] * 10)
    outside = torch.zeros(20, 2)
    measured = ood_metrics(inside, outside)
    assert measured["ood_msp_auroc"] == 100 and measured["ood_energy_fpr95"] == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"evaluation": {"corruptions": ["gaussian_noise"]}}, "evaluation.corruptions: corrupt images"),
        ({"evaluation": {"corruptions": ["frost"]}}, "evaluation.corruptions: unknown corruption 'frost'"),
        ({"evaluation": {"severities": [0, 3]}}, "evaluation.severities: must be some of 1, 2, 3, 4, 5"),
        ({"evaluation": {"ood": ["mnist"]}}, "evaluation.ood: noise or a dataset; unknown dataset 'mnist'"),
    ],
)
def test_bad_evaluation_options_are_one_line(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        train(_digits(**options))
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
