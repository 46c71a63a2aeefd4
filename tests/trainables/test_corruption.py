"""Label corruption: a seeded fraction gets uniform labels; the mask is kept; test labels are never
touched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainables import TrainConfig, Trial, corrupt_labels
from trainables.corruption import corrupt_labels_bernoulli


@pytest.mark.parametrize("fraction", [0.0, 0.2, 0.5, 0.8])
def test_selects_the_fraction_and_keeps_the_mask(fraction: float) -> None:
    labels = torch.arange(20000) % 10
    result = corrupt_labels(labels, fraction, num_classes=10, seed=0)
    assert int(result.selected.sum()) == round(fraction * len(labels))
    assert torch.equal(result.labels[~result.selected], labels[~result.selected])
    assert torch.equal(result.changed, result.labels != labels)
    assert not result.changed[~result.selected].any()
    # The uniform draw may hit the true label: about p * (1 - 1/K) change.
    assert result.changed_fraction == pytest.approx(fraction * 0.9, abs=0.01)
    if fraction:
        counts = torch.bincount(result.labels[result.selected], minlength=10).float()
        assert (counts / counts.sum() - 0.1).abs().max() < 0.02


def test_corruption_is_seeded() -> None:
    labels = torch.arange(1000) % 10
    a, b, c = (corrupt_labels(labels, 0.5, 10, seed=s) for s in (1, 1, 2))
    assert torch.equal(a.labels, b.labels) and torch.equal(a.selected, b.selected)
    assert not torch.equal(a.selected, c.selected)


def test_trial_corrupts_training_labels_only_and_measures_against_them() -> None:
    clean = Trial(TrainConfig(dataset="digits", label_noise=0.0))
    noisy = Trial(TrainConfig(dataset="digits", label_noise=0.5))
    assert torch.equal(noisy.y_test, clean.y_test)
    assert torch.equal(noisy.y_train_true, clean.y_train)
    assert int(noisy.selected.sum()) == round(0.5 * len(noisy.y_train))
    assert 40 < noisy.labels_changed_pct < 50
    metrics = noisy.evaluate()
    wrong = noisy.predict(noisy.x_train) != noisy.y_train
    assert metrics["train_error_corrupted"] == pytest.approx(
        100 * wrong[noisy.selected].double().mean().item()
    )
    assert metrics["train_error_real"] == pytest.approx(100 * wrong[~noisy.selected].double().mean().item())
    assert "train_error_corrupted" not in clean.evaluate()


def test_the_bernoulli_protocol_is_zhang_et_als_draw() -> None:
    """Oracle: their recipe with numpy's legacy generator seeded 12345, a uniform per example then a label per
    chosen one."""
    labels = torch.arange(5000) % 10
    ours = corrupt_labels_bernoulli(labels, 0.5, 10)
    rng = np.random.RandomState(12345)
    mask = rng.rand(5000) <= 0.5
    expected = labels.numpy().copy()
    expected[mask] = rng.choice(10, mask.sum())
    assert np.array_equal(ours.labels.numpy(), expected) and np.array_equal(ours.selected.numpy(), mask)
    assert 0.47 < float(ours.selected.float().mean()) < 0.53, "about p of the labels, not exactly p"


def test_the_bernoulli_corruption_is_shared_by_every_seed_and_the_fraction_one_is_not() -> None:
    options = dict(dataset="digits", model="mlp", epochs=1, label_noise=0.4, device="cpu")
    shared = [
        Trial(TrainConfig(**options, seed=seed, label_noise_protocol="bernoulli")).y_train for seed in (0, 1)
    ]
    own = [Trial(TrainConfig(**options, seed=seed)).y_train for seed in (0, 1)]
    assert torch.equal(shared[0], shared[1]) and not torch.equal(own[0], own[1])


def test_the_protocol_option_leaves_existing_trial_ids_alone() -> None:
    """Added after trial ids were first logged: at its default it is not part of a config's flat form."""
    assert "label_noise_protocol" not in TrainConfig(label_noise=0.2).flat()
    assert (
        TrainConfig(label_noise=0.2, label_noise_protocol="bernoulli").flat()["label_noise_protocol"]
        == "bernoulli"
    )
