"""The method alone, on tiny data: its batches epoch by epoch, seeded, resumed, against the global RNGs,
their targets, and a training step in fp32 and bf16."""

from __future__ import annotations

import copy
import math
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..config import TrainConfig
from ..mixing import Draws, MixContext, MixedBatch, Mixer, MixMethod, batch_loss, mixing_hidden
from ..models import build_model, manifold_layers
from ._common import (
    BATCH,
    CLASSES,
    EPOCHS,
    EXAMPLES,
    SEED,
    Check,
    _fork_rng,
    _global_states,
    _guarded,
    _saved,
    _seed_globals,
)


@dataclass
class _Tiny:
    x: Tensor  # normalised inputs
    y: Tensor
    model: nn.Module
    layers: list[nn.Module]
    model_name: str


def _data(images: bool) -> _Tiny:
    generator = torch.Generator().manual_seed(0)
    shape = (3, 8, 8) if images else (6,)
    x = torch.randn(EXAMPLES, *shape, generator=generator)
    y = torch.arange(EXAMPLES) % CLASSES
    name = "cnn" if images else "mlp"
    with _fork_rng():
        torch.manual_seed(0)
        model = build_model(name, shape, CLASSES, (16,)).eval()  # eval: its logits depend on the batch only
    return _Tiny(x, y, model, manifold_layers(model, name), name)


def _context(data: _Tiny, cls: type[MixMethod], config: TrainConfig) -> MixContext:
    hidden = "hidden_states" in cls.requirements(config)
    return MixContext(
        num_classes=CLASSES,
        device=torch.device("cpu"),
        train_size=EXAMPLES,
        model=data.model,
        layers=data.layers if hidden else [],
        examples=lambda idx: (data.x[idx], data.y[idx]),
        # the tiny images' pixels: x * 0.25 + 0.5, mostly in [0, 1] (x is standard normal)
        normalisation=(torch.full((3, 1, 1), 0.5), torch.full((3, 1, 1), 0.25))
        if data.x.dim() == 4
        else None,
    )


def _build(cls: type[MixMethod], config: TrainConfig, data: _Tiny) -> MixMethod:
    options = {key: value for key, value in config.mix.items() if key != "method"}
    return cls(config, options, _context(data, cls, config))


def _epoch_batches(epoch: int) -> list[Tensor]:
    order = torch.randperm(EXAMPLES, generator=torch.Generator().manual_seed(1000 + epoch))
    return [order[start : start + BATCH] for start in range(0, EXAMPLES, BATCH)]


Fingerprint = tuple[Tensor, ...]


def _fingerprint(batch: MixedBatch, data: _Tiny) -> Fingerprint:
    """What a batch makes the training step compute: inputs, targets, the logits and the loss."""
    with torch.no_grad(), mixing_hidden(batch):
        logits = data.model(batch.inputs)
        loss = batch_loss(batch, logits)
    return batch.inputs.detach().clone(), batch.target_distribution(CLASSES), logits, loss.reshape(1)


def _run(
    cls: type[MixMethod],
    config: TrainConfig,
    data: _Tiny,
    epochs: range,
    state: dict[str, Any] | None = None,
    seed: int = SEED,
    global_seed: int | None = 0,
) -> tuple[list[Fingerprint], dict[str, Any]]:
    """The method's batches over ``epochs``, from a new instance and new draws (restored from ``state``
    when given), the global generators seeded with ``global_seed`` (None: as they are) and put back after;
    the fingerprints and the state after the last epoch (saved and reloaded, as a checkpoint file is)."""
    draws = Draws(seed)
    # the same global generators every run, put back after; a check that varies them does so itself
    with _fork_rng() if global_seed is not None else nullcontext():
        if global_seed is not None:
            _seed_globals(global_seed)
        mixer = Mixer(_build(cls, config, data), draws, config.mix_prob, 0)
        if state is not None:  # what a trial's checkpoint holds: the draws, the method's state, torch's RNG
            draws.load_state_dict(state["draws"])
            mixer.load_state_dict(state["method"])
            torch.set_rng_state(state["torch"])
        prints = []
        for epoch in epochs:
            mixer.method.start_epoch(draws)
            for idx in _epoch_batches(epoch):
                prints.append(_fingerprint(mixer.batch(data.x[idx], data.y[idx]), data))
        saved = {"draws": draws.state_dict(), "method": mixer.state_dict(), "torch": torch.get_rng_state()}
    return prints, _saved(saved)


def _same(a: list[Fingerprint], b: list[Fingerprint]) -> int | None:
    """The first batch at which two runs differ, or None."""
    if len(a) != len(b):
        return min(len(a), len(b))
    for i, (one, two) in enumerate(zip(a, b)):
        if any(x.shape != y.shape or not torch.equal(x, y) for x, y in zip(one, two)):
            return i
    return None


def _seeded(cls: type[MixMethod], config: TrainConfig, data: _Tiny) -> Check:
    def check() -> Check:
        first, _ = _run(cls, config, data, range(EPOCHS))
        second, _ = _run(cls, config, data, range(EPOCHS))
        other, _ = _run(cls, config, data, range(EPOCHS), seed=SEED + 1)
        differs = _same(first, second)
        if differs is not None:
            return Check("seeded", False, f"the same seed twice differs at batch {differs}")
        if _same(first, other) is None:
            return Check(
                "seeded", False, "another seed gives the same batches: the draws ignore the trial's seed"
            )
        return Check("seeded", True, f"the same seed twice gives identical batches ({len(first)} batches)")

    return _guarded("seeded", check)


def _resumes(cls: type[MixMethod], config: TrainConfig, data: _Tiny) -> Check:
    def check() -> Check:
        whole, _ = _run(cls, config, data, range(EPOCHS))
        head, state = _run(cls, config, data, range(1))
        tail, _ = _run(cls, config, data, range(1, EPOCHS), state=state)
        differs = _same(whole, head + tail)
        if differs is not None:
            return Check(
                "resume",
                False,
                f"restored after epoch 1 of {EPOCHS}, batch {differs} differs from the uninterrupted run: "
                "state the method keeps is not in its state_dict",
            )
        return Check(
            "resume", True, f"draws and state_dict restored after epoch 1 of {EPOCHS}: identical batches"
        )

    return _guarded("resume", check)


def _no_global_rng(cls: type[MixMethod], config: TrainConfig, data: _Tiny) -> Check:
    def check() -> Check:
        runs = []
        touched = False
        with _fork_rng():
            for seed in (1, 2):
                _seed_globals(seed)
                before = _global_states()
                runs.append(_run(cls, config, data, range(EPOCHS), global_seed=None)[0])
                after = _global_states()
                touched |= not (
                    torch.equal(before[0], after[0])
                    and np.array_equal(before[1], after[1])
                    and before[2] == after[2]
                )
        if _same(runs[0], runs[1]) is not None:
            return Check(
                "no global RNG", False, "the batches change with the global torch, numpy and random seeds"
            )
        if touched:
            return Check("no global RNG", False, "the method draws from or reseeds a global generator")
        return Check(
            "no global RNG",
            True,
            "the batches ignore the global seeds, and leave the global generators as they were",
        )

    return _guarded("no global RNG", check)


def _targets(cls: type[MixMethod], config: TrainConfig, data: _Tiny) -> Check:
    def check() -> Check:
        draws = Draws(SEED)
        mixer = Mixer(_build(cls, config, data), draws, config.mix_prob, 0)
        for epoch in range(EPOCHS):
            mixer.method.start_epoch(draws)
            for idx in _epoch_batches(epoch):
                batch = mixer.batch(data.x[idx], data.y[idx])
                problem = _target_problem(batch)
                if problem:
                    return Check("targets", False, f"epoch {epoch + 1}: {problem}")
        return Check("targets", True, "distributions over the classes, label weights in [0, 1]")

    return _guarded("targets", check)


def _target_problem(batch: MixedBatch) -> str | None:
    if batch.targets is None and not batch.labels:
        return "a batch gives neither labels nor targets"
    if any(((y < 0) | (y >= CLASSES)).any() for y in batch.labels):
        return "a label is not a class index"
    if batch.targets is None:
        weights = batch.weight_tensor()
        if weights.shape != (len(batch.labels[0]), len(batch.labels)):
            shape = tuple(weights.shape)
            return (
                f"weights of shape {shape} for {len(batch.labels)} labels of {len(batch.labels[0])} examples"
            )
        if not torch.isfinite(weights).all() or (weights < 0).any() or (weights > 1).any():
            low, high = float(weights.min()), float(weights.max())
            return f"label weights outside [0, 1] (from {low:.4g} to {high:.4g})"
    targets = batch.target_distribution(CLASSES)
    if not torch.isfinite(targets).all():
        return "a target is not finite"
    sums = targets.sum(1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-5):
        worst, sign = float((sums - 1).abs().max()), "+" if float(sums.max()) > 1 else "-"
        return f"targets are not distributions: a row sums to 1 {sign} {worst:.3g}"
    if (targets < -1e-6).any() or (targets > 1 + 1e-6).any():
        return "a target outside [0, 1]"
    if not torch.isfinite(batch.inputs).all():
        return "the mixed inputs are not all finite"
    return None


def _precision(cls: type[MixMethod], config: TrainConfig, data: _Tiny) -> Check:
    def check() -> Check:
        for dtype in (torch.float32, torch.bfloat16):
            model = copy.deepcopy(data.model).train()  # its BatchNorm statistics move: a copy's
            training = _Tiny(data.x, data.y, model, manifold_layers(model, data.model_name), data.model_name)
            draws = Draws(SEED)
            mixer = Mixer(_build(cls, config, training), draws, config.mix_prob, 0)
            mixer.method.start_epoch(draws)
            for idx in _epoch_batches(0):
                batch = mixer.batch(data.x[idx], data.y[idx])
                with torch.autocast("cpu", dtype=dtype, enabled=dtype != torch.float32), mixing_hidden(batch):
                    loss = batch_loss(batch, model(batch.inputs))
                grads = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)
                if not math.isfinite(float(loss.detach())) or not all(
                    g is None or torch.isfinite(g).all() for g in grads
                ):
                    name = str(dtype).removeprefix("torch.")
                    return Check("precision", False, f"{name}: a loss or gradient is not finite")
        return Check("precision", True, "fp32 and bf16 training steps: finite losses and gradients")

    return _guarded("precision", check)
