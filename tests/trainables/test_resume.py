"""A trial resumed from a checkpoint ends bit for bit where an uninterrupted one does."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import torch

from trainables import TrainConfig, Trial, train


def _serialise(state: dict[str, Any]) -> dict[str, Any]:
    buffer = io.BytesIO()
    torch.save(state, buffer)  # the same path as a checkpoint file: nothing shared with the live trial
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


def _final_state(
    config: TrainConfig, stop_after: int | None = None
) -> tuple[list[dict[str, float]], dict[str, torch.Tensor]]:
    if stop_after is None:
        captured: dict[str, Any] = {}
        result = train(config, on_epoch=lambda metrics, state: captured.update(state=state()))
        return result.history, captured["state"]["model"]
    saved: dict[str, Any] = {}

    def interrupt(metrics: dict[str, float], state: Any) -> None:
        if metrics["epoch"] == stop_after:
            saved["state"] = _serialise(state())
            raise KeyboardInterrupt  # the trial dies here

    with pytest.raises(KeyboardInterrupt):
        train(config, on_epoch=interrupt)
    captured = {}
    result = train(
        config, on_epoch=lambda metrics, state: captured.update(state=state()), resume_state=saved["state"]
    )
    return result.history, captured["state"]["model"]


CONFIGS = {
    # every RNG at once: augmentation, dropout, per-sample lambda, pairing, shuffling, label noise
    "cnn-augment-dropout-mixup": dict(
        dataset="npz",
        model="cnn",
        augment=True,
        dropout=0.3,
        alpha=1.0,
        lambda_per="sample",
        label_noise=0.3,
        batch_size=16,
    ),
    "mlp-digits-step-schedule": dict(
        dataset="digits",
        model="mlp",
        alpha=0.4,
        schedule={"name": "step", "step_size": 2, "gamma": 0.5},
        batch_size=128,
    ),
    "adam-erm": dict(
        dataset="digits", model="mlp", alpha=0.0, optimizer={"name": "adam", "lr": 0.001}, batch_size=256
    ),
    # fp16 autocast: the gradient scaler's state (scale, growth tracker) is part of the checkpoint
    "mlp-fp16": dict(dataset="digits", model="mlp", alpha=1.0, precision="fp16", batch_size=64),
    # Section 2's variants: the second loaders' orders and the
    # equal-label draws come from checkpointed generators
    "mlp-3way-two-loaders": dict(
        dataset="digits", model="mlp", alpha=1.0, mix_k=3, mix_pairing="two_loaders", batch_size=64
    ),
    # Goyal et al.'s warm-up: two schedulers chained, both in the checkpoint
    "mlp-warmup-multistep": dict(
        dataset="digits",
        model="mlp",
        alpha=0.2,
        schedule={"name": "multistep", "milestones": [3], "warmup_epochs": 2},
        batch_size=128,
    ),
    "cnn-augment-same-label": dict(
        dataset="npz", model="cnn", augment=True, alpha=1.0, mix_pairing="same_label", batch_size=16
    ),
    # mixup's successors: Cutout's centres come from the checkpointed augmentation generator
    "cnn-cutout-label-smoothing-mixup": dict(
        dataset="npz", model="cnn", augment=True, cutout=8, label_smoothing=0.1, alpha=1.0, batch_size=16
    ),
    # CutMix's boxes per image, and timm's coins: which batches mix, and which take CutMix over mixup
    "cnn-cutmix-per-sample": dict(
        dataset="npz",
        model="cnn",
        augment=True,
        alpha=1.0,
        mix_method="cutmix",
        lambda_per="sample",
        batch_size=16,
    ),
    "cnn-switch-and-mix-prob": dict(
        dataset="npz",
        model="cnn",
        alpha=1.0,
        mix_switch_prob=0.5,
        mix_prob=0.8,
        label_smoothing=0.1,
        batch_size=16,
    ),
    # Manifold Mixup's layer, lambda and partners per batch, or per example
    "mlp-manifold-mixup": dict(
        dataset="digits", model="mlp", alpha=2.0, mix_method="manifold_mixup", batch_size=128
    ),
    "cnn-manifold-mixup-per-sample": dict(
        dataset="npz", model="cnn", alpha=1.0, mix_method="manifold_mixup", lambda_per="sample", batch_size=16
    ),
    "mlp-label-smoothing-premixed": dict(
        dataset="digits", model="mlp", alpha=1.0, label_smoothing=0.2, batch_size=128
    ),
    # issue 31's evaluation: temperature scaling on a validation split each epoch, and after the last,
    # seeded corruptions of the test images and a seeded noise set as out-of-distribution data
    "cnn-calibration-corruptions-ood": dict(
        dataset="npz",
        model="cnn",
        alpha=1.0,
        val_fraction=0.25,
        batch_size=16,
        evaluation={
            "corruptions": ["gaussian_noise", "glass_blur", "snow"],
            "severities": [2, 5],
            "ood": ["noise"],
            "ood_images": 24,
        },
    ),
}


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.usefixtures("isolated_cache")  # the corrupted images' cache
def test_resume_equals_uninterrupted(name: str, colour_npz: Path) -> None:
    options = {"epochs": 4, "seed": 3, "device": "cpu", **CONFIGS[name]}
    if options["dataset"] == "npz":
        options["data_path"] = str(colour_npz)
    config = TrainConfig(**options)
    history, model = _final_state(config)
    resumed_history, resumed_model = _final_state(config, stop_after=2)
    assert resumed_history == history
    for key in model:
        assert torch.equal(model[key], resumed_model[key]), key


def test_different_seeds_differ() -> None:
    a = train(TrainConfig(dataset="digits", epochs=1, alpha=1.0, seed=0)).final
    b = train(TrainConfig(dataset="digits", epochs=1, alpha=1.0, seed=1)).final
    assert a["train_loss"] != b["train_loss"]


def test_checkpoint_of_another_config_is_refused() -> None:
    state = Trial(TrainConfig(dataset="digits", alpha=1.0)).state_dict()
    with pytest.raises(ValueError, match="different config"):
        train(TrainConfig(dataset="digits", alpha=2.0, epochs=1), resume_state=state)


def test_nan_loss_stops_the_trial_at_once() -> None:
    config = TrainConfig(dataset="digits", epochs=20, optimizer={"name": "sgd", "lr": 1e6, "momentum": 0.9})
    result = train(config)
    assert result.diverged and len(result.history) < 20 and result.final["diverged"] == 1.0


def test_a_checkpoint_from_before_an_option_existed_resumes_with_its_default() -> None:
    """Checkpoints written before Section 2's options (mix_k, schedule.warmup_epochs, ...) still resume; a
    changed option does not."""
    config = TrainConfig(dataset="digits", model="mlp", epochs=2, alpha=1.0, seed=1, device="cpu")
    trial = Trial(config)
    trial.train_epoch()
    state = trial.state_dict()
    for option in ("mix_k", "mix_pairing"):
        del state["config"][option]
    for option in ("warmup_epochs", "warmup_start"):  # nested options too
        del state["config"]["schedule"][option]
    Trial(config).load_state_dict(state)
    with pytest.raises(ValueError, match="different config"):
        Trial(
            TrainConfig(dataset="digits", model="mlp", epochs=2, alpha=1.0, seed=1, mix_k=3, device="cpu")
        ).load_state_dict(state)


def test_the_goyal_schedule_warms_up_linearly_per_iteration_then_divides_by_10_at_its_epochs() -> None:
    """Section 3.1: 0.1 to 0.4 over 5 epochs, rising every iteration as Goyal et al. do, then /10 at 30, 60
    and 80
    (counted from epoch 0, warm-up included). Digits: 1,347 examples in batches of 64 are 22 iterations per
    epoch."""
    config = TrainConfig(
        dataset="digits",
        model="mlp",
        epochs=90,
        optimizer={"name": "sgd", "lr": 0.4},
        schedule={"name": "multistep", "milestones": [30, 60, 80], "warmup_epochs": 5},
        device="cpu",
    )
    trial = Trial(config)
    lrs, within_first = [], []
    for epoch in range(90):
        lrs.append(trial.optimizer.param_groups[0]["lr"])
        for _ in range(22):
            trial.optimizer.step()
            trial.scheduler.step_iteration()
            if epoch == 0:
                within_first.append(trial.optimizer.param_groups[0]["lr"])
        trial.scheduler.step()
    assert lrs[:6] == pytest.approx([0.1, 0.16, 0.22, 0.28, 0.34, 0.4])
    assert within_first == pytest.approx([0.4 * (0.25 + 0.75 * (i + 1) / 110) for i in range(22)]), (
        "linear in the iteration, not a step per epoch"
    )
    assert (
        lrs[29:31] == pytest.approx([0.4, 0.04])
        and lrs[59:61] == pytest.approx([0.04, 0.004])
        and lrs[79:81] == pytest.approx([0.004, 0.0004])
    )
