"""The project's ``train`` against a textbook mixup loop (tests/trainables/reference_mixup.py), over every
input layout.

Two comparisons:

- **Shared draws.** The reference is handed the project's own shuffling
  order, lambdas, permutations, corrupted labels and initial weights. Every
  minibatch's loss must then agree within 1e-5, on the per-batch path and on
  the premixed path: the same normalisation, the same mixing, the same loss.
- **Independent draws.** Each trainer draws for itself from its own seeds.
  Final test error and training error on real and on corrupted labels must
  agree, as means over seeds, within the seed noise measured for each
  setting (``TOLERANCE``).

Data: scikit-learn's digits, always; a Fashion-MNIST subset when the offline
datasets are there (the real-data tier). Layouts: uint8 (N, H, W), uint8
(N, 1, H, W), float images in [0, 1], and float features (N, D).
"""

from __future__ import annotations

import copy
import statistics
from pathlib import Path

import numpy as np
import pytest
import torch
from reference_mixup import train_reference

import trainables.mixing.mixup as mixup_module
import trainables.tasks.classify
from trainables import TrainConfig, train
from trainables.tasks.classify import Trial

LAYOUTS = ("uint8_hw", "uint8_chw", "float_chw", "float_features")


def as_layout(images: np.ndarray, layout: str) -> np.ndarray:
    """uint8 (N, H, W) images in the given layout."""
    return {
        "uint8_hw": lambda: images,
        "uint8_chw": lambda: images[:, None],
        "float_chw": lambda: (images[:, None] / 255).astype(np.float32),
        "float_features": lambda: (images.reshape(len(images), -1) / 255).astype(np.float32),
    }[layout]()


def digits() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images * 15).astype(np.uint8)  # 0-16 grey levels as 0-240
    order = np.random.default_rng(0).permutation(len(images))
    train_rows, test_rows = order[:1347], order[1347:]
    return {
        "x_train": images[train_rows],
        "y_train": bunch.target[train_rows],
        "x_test": images[test_rows],
        "y_test": bunch.target[test_rows],
    }


def fashion_subset(root: Path, train_size: int = 2000, test_size: int = 1000) -> dict[str, np.ndarray]:
    """A fixed subset of the real Fashion-MNIST, read from its idx .gz files (uint8 (N, 28, 28))."""
    import gzip

    def read(name: str, offset: int) -> np.ndarray:
        with gzip.open(root / "fashion-mnist" / f"{name}.gz") as file:
            return np.frombuffer(file.read(), np.uint8, offset=offset)

    x_train, y_train = (
        read("train-images-idx3-ubyte", 16).reshape(-1, 28, 28),
        read("train-labels-idx1-ubyte", 8).astype(np.int64),
    )
    x_test, y_test = (
        read("t10k-images-idx3-ubyte", 16).reshape(-1, 28, 28),
        read("t10k-labels-idx1-ubyte", 8).astype(np.int64),
    )
    rng = np.random.default_rng(0)
    keep_train, keep_test = (
        rng.permutation(len(x_train))[:train_size],
        rng.permutation(len(x_test))[:test_size],
    )
    return {
        "x_train": x_train[keep_train],
        "y_train": y_train[keep_train],
        "x_test": x_test[keep_test],
        "y_test": y_test[keep_test],
    }


def write_layout(data: dict[str, np.ndarray], layout: str, path: Path) -> dict[str, np.ndarray]:
    arrays = {
        **data,
        "x_train": as_layout(data["x_train"], layout),
        "x_test": as_layout(data["x_test"], layout),
    }
    np.savez(path, **arrays)
    return arrays


class DrawRecorder:
    """Keeps each batch's (lambda, permutation) as the trial's mixup method draws them, premixed or not: the
    method's two draw functions (``trainables.mixing.mixup``), wrapped."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.steps: list[tuple[float, torch.Tensor]] = []
        pair, epoch = mixup_module.pair_draws, mixup_module.epoch_draws

        def pair_draws(
            draws: object, alpha: float, per_sample: bool, size: int
        ) -> tuple[object, torch.Tensor]:
            weight, perm = pair(draws, alpha, per_sample, size)  # type: ignore[arg-type]
            self.steps.append((float(weight), perm))  # one lambda per batch: the paper's default
            return weight, perm

        def epoch_draws(
            draws: object, alpha: float, per_sample: bool, sizes: list[int]
        ) -> tuple[torch.Tensor, list[torch.Tensor]]:
            weights, perms = epoch(draws, alpha, per_sample, sizes)  # type: ignore[arg-type]
            starts = np.cumsum([0, *sizes[:-1]])
            self.steps += [(float(weights[start]), perm) for start, perm in zip(starts, perms)]
            return weights, perms

        monkeypatch.setattr(mixup_module, "pair_draws", pair_draws)
        monkeypatch.setattr(mixup_module, "epoch_draws", epoch_draws)


def project_with_draws(
    config: TrainConfig, epochs: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[float], dict, list, tuple[np.ndarray, np.ndarray]]:
    """Train ``epochs`` epochs; return the per-step losses, the initial weights, every draw and the corrupted
    labels."""
    trial = Trial(config)
    init = copy.deepcopy(trial.model.state_dict())
    recorder = DrawRecorder(monkeypatch)
    losses: list[float] = []
    draws = []
    for _ in range(epochs):
        shuffle = torch.Generator()
        shuffle.set_state(trial.shuffle_gen.get_state())
        order = torch.randperm(len(trial.y_train), generator=shuffle)  # what train_epoch draws next
        drawn = len(recorder.steps)
        trial.train_epoch(on_step=lambda loss: losses.append(float(loss)))
        trial.scheduler.step()
        trial.epoch += 1
        sizes = [
            len(order[start : start + config.batch_size]) for start in range(0, len(order), config.batch_size)
        ]
        # ERM: lambda 1, nobody mixed
        steps = recorder.steps[drawn:] or [(1.0, torch.arange(size)) for size in sizes if size >= 2]
        draws.append((order, steps))
    return losses, init, draws, (trial.y_train.numpy(), trial.selected.numpy())


# ERM is trained batch by batch; mixup premixes an unaugmented epoch that fits, else mixes batch by batch.
CASES = [
    (0.0, 0.0, "per_batch"),
    (0.0, 0.4, "per_batch"),
    (1.0, 0.0, "premixed"),
    (1.0, 0.4, "premixed"),
    (1.0, 0.0, "per_batch"),
    (1.0, 0.4, "per_batch"),
]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(("alpha", "noise", "path"), CASES)
def test_with_shared_draws_every_step_loss_equals_the_textbook_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str, path: str, alpha: float, noise: float
) -> None:
    if path == "per_batch":
        # an epoch too big to premix: mixed batch by batch
        monkeypatch.setattr(trainables.tasks.classify, "PREMIX_MAX_ELEMENTS", 0)
    arrays = write_layout(digits(), layout, tmp_path / "data.npz")
    config = TrainConfig(
        dataset="npz",
        data_path=str(tmp_path / "data.npz"),
        model="mlp",
        hidden_sizes=(64,),
        epochs=2,
        batch_size=64,
        alpha=alpha,
        label_noise=noise,
        seed=3,
    )
    ours, init, draws, labels = project_with_draws(config, epochs=2, monkeypatch=monkeypatch)
    reference = train_reference(
        arrays,
        10,
        alpha=alpha,
        epochs=2,
        batch_size=64,
        seed=3,
        hidden=[64],
        init=init,
        draws=draws,
        labels=labels,
    )
    assert len(ours) == len(reference["losses"]) == 2 * 22  # 1,347 examples: 21 batches of 64 and one of 3
    assert np.allclose(ours, reference["losses"], rtol=0, atol=1e-5), max(
        abs(a - b) for a, b in zip(ours, reference["losses"])
    )


# Independent draws: the recipe of each dataset, and the seed spread measured for it (std over 12 seeds of one
# trainer, in points of %, the larger of the two trainers'; tests/trainables/measure_differential_spread.py).
# A difference of means over SEEDS seeds each passes within TOLERANCE_SIGMAS standard errors of it.
SEEDS = 4
TOLERANCE_SIGMAS = 4.0
RECIPES = {
    "digits": {
        "hidden": [128],
        "epochs": 20,
        "batch_size": 64,
        "optimizer": "sgd",
        "lr": 0.1,
        "weight_decay": 1e-4,
    },
    "fashion_mnist": {
        "hidden": [128],
        "epochs": 20,
        "batch_size": 64,
        "optimizer": "adam",
        "lr": 1e-3,
        "weight_decay": 0.0,
    },
}
SPREAD = {  # (dataset, alpha, label noise) -> {metric: std over seeds}, measured 2026-12-01
    ("digits", 0.0, 0.0): {"test_error": 0.36},
    ("digits", 1.0, 0.0): {"test_error": 0.72},
    ("digits", 0.0, 0.4): {"test_error": 3.64, "train_error_corrupted": 2.52},
    ("digits", 1.0, 0.4): {"test_error": 3.21, "train_error_corrupted": 1.52},
    ("fashion_mnist", 0.0, 0.0): {"test_error": 0.99},
    ("fashion_mnist", 1.0, 0.0): {"test_error": 0.78},
    ("fashion_mnist", 0.0, 0.4): {"test_error": 1.72, "train_error_corrupted": 2.47},
    ("fashion_mnist", 1.0, 0.4): {"test_error": 2.30, "train_error_corrupted": 3.15},
}


def recipe_config(recipe: dict, path: Path, alpha: float, noise: float) -> dict:
    """The project's trainable options for a recipe of RECIPES on the .npz at ``path`` (all but the seed)."""
    optimizer = {"name": recipe["optimizer"], "lr": recipe["lr"], "weight_decay": recipe["weight_decay"]}
    return dict(
        dataset="npz",
        data_path=str(path),
        model="mlp",
        hidden_sizes=tuple(recipe["hidden"]),
        epochs=recipe["epochs"],
        batch_size=recipe["batch_size"],
        optimizer=optimizer,
        alpha=alpha,
        label_noise=noise,
    )


def compare_over_seeds(data: dict[str, np.ndarray], dataset: str, layout: str, path: Path) -> list[str]:
    """Both trainers over SEEDS seeds, each setting of SPREAD; returns what disagrees beyond the tolerance."""
    recipe = RECIPES[dataset]
    arrays = write_layout(data, layout, path)
    problems = []
    for (name, alpha, noise), spread in SPREAD.items():
        if name != dataset:
            continue
        config = recipe_config(recipe, path, alpha, noise)
        ours = [train(TrainConfig(**config, seed=seed)).final for seed in range(SEEDS)]
        theirs = [_reference(arrays, dataset, layout, alpha, noise, seed) for seed in range(SEEDS)]
        for metric, sigma in spread.items():
            mean_ours, mean_theirs = (
                statistics.fmean(r[metric] for r in ours),
                statistics.fmean(r[metric] for r in theirs),
            )
            tolerance = TOLERANCE_SIGMAS * sigma * (2 / SEEDS) ** 0.5
            if abs(mean_ours - mean_theirs) > tolerance:
                problems.append(
                    f"alpha={alpha} noise={noise} {metric}: ours {mean_ours:.2f}, textbook {mean_theirs:.2f} "
                    f"(tolerance {tolerance:.2f})"
                )
    return problems


# The textbook loop reads uint8 (N, H, W) as (N, 1, H, W): the same input, so the same result, bit for bit. It
# is trained once for both layouts (the project's trainer still runs on each).
_SAME_REFERENCE_INPUT = {"uint8_hw": "uint8_chw"}
_references: dict[tuple, dict] = {}


def _reference(
    arrays: dict[str, np.ndarray], dataset: str, layout: str, alpha: float, noise: float, seed: int
) -> dict:
    key = (dataset, _SAME_REFERENCE_INPUT.get(layout, layout), alpha, noise, seed)
    if key not in _references:
        recipe = RECIPES[dataset]
        _references[key] = train_reference(arrays, 10, alpha=alpha, label_noise=noise, seed=seed, **recipe)
    return _references[key]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_digits_learn_what_the_textbook_loop_learns_in_every_layout(tmp_path: Path, layout: str) -> None:
    torch.set_num_threads(1)
    assert not (problems := compare_over_seeds(digits(), "digits", layout, tmp_path / "data.npz")), problems


@pytest.mark.parametrize("layout", LAYOUTS)
def test_fashion_mnist_learns_what_the_textbook_loop_learns_in_every_layout(
    tmp_path: Path, layout: str, datasets_dir: Path
) -> None:
    torch.set_num_threads(1)
    assert not (
        problems := compare_over_seeds(
            fashion_subset(datasets_dir), "fashion_mnist", layout, tmp_path / "data.npz"
        )
    ), problems
