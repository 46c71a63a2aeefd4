"""A textbook mixup trainer, from the paper's Section 2 alone: the oracle of
tests/trainables/test_differential.py.

It imports nothing from the project. Raw arrays in (uint8 or float; (N, D),
(N, H, W) or (N, C, H, W)); standardised with training statistics (per
channel for images, per feature otherwise); shuffled minibatches; one
lambda ~ Beta(alpha, alpha) and one random permutation partner per batch;
the loss lam * CE(f(x~), y_i) + (1 - lam) * CE(f(x~), y_j); SGD or Adam.
``draws`` replaces its own random draws with given ones, so that per-step
losses can be compared with another trainer's.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def standardise(x_train: np.ndarray, *others: np.ndarray) -> list[torch.Tensor]:
    prepare = lambda x: (
        torch.tensor(x[:, None] if x.ndim == 3 else x, dtype=torch.float64)
        / (255 if x.dtype == np.uint8 else 1)
    )
    train, rest = prepare(x_train), [prepare(x) for x in others]
    dims = (0, 2, 3) if train.dim() == 4 else (0,)
    mean, std = train.mean(dims, keepdim=True), train.std(dims, keepdim=True, correction=0)
    std = torch.where(std > 0, std, torch.ones_like(std))  # a constant input: centred only
    return [((x - mean) / std).float() for x in (train, *rest)]


def mlp(in_features: int, hidden: list[int], classes: int) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()]
    for width in hidden:
        layers += [nn.Linear(in_features, width), nn.ReLU()]
        in_features = width
    return nn.Sequential(*layers, nn.Linear(in_features, classes))


def train_reference(
    data: dict[str, np.ndarray],
    classes: int,
    *,
    alpha: float,
    epochs: int,
    batch_size: int,
    seed: int,
    hidden: list[int],
    optimizer: str = "sgd",
    lr: float = 0.1,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    label_noise: float = 0.0,
    init: dict | None = None,
    draws: list | None = None,
    labels: np.ndarray | None = None,
) -> dict:
    """Returns the per-step losses, and the final errors (%) on the test set and on the training set's real
    and corrupted labels."""
    rng, generator = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    x_train, x_test = standardise(data["x_train"], data["x_test"])
    y_true, y_test = (
        torch.tensor(data["y_train"], dtype=torch.int64),
        torch.tensor(data["y_test"], dtype=torch.int64),
    )
    corrupted = torch.zeros(len(y_true), dtype=torch.bool)
    corrupted[torch.randperm(len(y_true), generator=generator)[: round(label_noise * len(y_true))]] = True
    y_train = y_true.clone()
    y_train[corrupted] = torch.randint(classes, (int(corrupted.sum()),), generator=generator)
    if labels is not None:  # given corrupted labels (with the mask of which were redrawn)
        y_train, corrupted = torch.tensor(labels[0]), torch.tensor(labels[1])
    torch.manual_seed(seed)
    model = mlp(x_train[0].numel(), hidden, classes)
    if init is not None:
        model.load_state_dict(init)
    opt = (
        torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        if optimizer == "adam"
        else torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
    )
    losses = []
    for epoch in range(epochs):
        order, steps = (
            draws[epoch] if draws is not None else (torch.randperm(len(y_train), generator=generator), None)
        )
        batches = [
            order[i : i + batch_size]
            for i in range(0, len(order), batch_size)
            if len(order[i : i + batch_size]) >= 2
        ]
        model.train()
        for step, idx in enumerate(batches):
            lam, perm = (
                steps[step]
                if steps is not None
                else (
                    float(rng.beta(alpha, alpha)) if alpha > 0 else 1.0,
                    torch.randperm(len(idx), generator=generator),
                )
            )
            x, y = x_train[idx], y_train[idx]
            out = model(lam * x + (1 - lam) * x[perm])
            loss = lam * F.cross_entropy(out, y) + (1 - lam) * F.cross_entropy(out, y[perm])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    model.eval()
    with torch.no_grad():
        wrong_test = model(x_test).argmax(1) != y_test
        wrong_train = model(x_train).argmax(1) != y_train
    error = lambda wrong: 100.0 * float(wrong.float().mean()) if len(wrong) else float("nan")
    return {
        "losses": losses,
        "test_error": error(wrong_test),
        "train_error_real": error(wrong_train[~corrupted]),
        "train_error_corrupted": error(wrong_train[corrupted]),
    }
