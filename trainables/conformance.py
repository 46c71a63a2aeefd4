"""``mixup-tune check NAME``: a mixing method held to the registry's contract, in seconds, on tiny data.

Each check is one line, passed, failed or not applicable:

- seeded: the same seed twice gives identical batches (inputs, targets, the model's logits and loss);
- resume: a checkpoint of the draws and the method's state after an epoch, restored into a new instance,
  gives what the uninterrupted run gave next; and a real trial stopped and resumed ends bit for bit where
  an uninterrupted one does;
- no global RNG: the batches do not change with the global torch, numpy and ``random`` seeds, and the
  method leaves those generators as it found them;
- targets: distributions (rows summing to 1, entries in [0, 1]), label weights in [0, 1];
- off: at the method's ``off`` settings a trial trains exactly as ERM;
- precision: a training step in fp32 and in bf16 (autocast on the CPU) gives a finite loss and gradients;
- data: what it cannot take (feature vectors, for a method that needs images) is refused in one line.

The data are random tensors (32 examples, 4 classes): 3x8x8 images, or 6 features for a method that takes
any input. The method runs at its default options, with alpha 1 where it reads alpha (0 is its off).
"""

from __future__ import annotations

import copy
import io
import math
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .config import BUILTIN_MIX_METHODS, TrainConfig
from .data import Splits
from .errors import ConfigError, DatasetError
from .mixing import MIX_METHODS, Draws, MixContext, MixedBatch, Mixer, MixMethod, batch_loss, mixing_hidden
from .models import build_model, manifold_layers
from .tasks import train

EXAMPLES, CLASSES, BATCH, EPOCHS, SEED = 32, 4, 8, 3, 7


@dataclass
class Check:
    name: str
    passed: bool | None  # None: does not apply to this method
    detail: str

    def line(self) -> str:
        mark = "n/a " if self.passed is None else "ok  " if self.passed else "FAIL"
        return f"  {mark}  {self.name}: {self.detail}"


def method_config(name: str, **options: Any) -> TrainConfig:
    """A trial of method ``name`` at its defaults, mixing: alpha 1 where it reads alpha. ``options`` are
    trial options (``alpha``) or the method's own (``mix.OPTION`` or ``OPTION``)."""
    if name not in MIX_METHODS:
        raise ConfigError("method", MIX_METHODS.unknown(name))
    cls = MIX_METHODS[name]
    trial: dict[str, Any] = {"alpha": 1.0} if "alpha" in cls.uses else {}
    own: dict[str, Any] = {}
    for key, value in options.items():
        key = key.removeprefix("mix.")
        (own if key in cls.options else trial)[key] = value
    if name in BUILTIN_MIX_METHODS:
        return TrainConfig(mix_method=name, **trial)  # type: ignore[arg-type]
    return TrainConfig(mix={"method": name, **own}, **trial)


def check_method(name: str, **options: Any) -> tuple[type[MixMethod], list[Check]]:
    """Every check of the module docstring on method ``name``; its class and one ``Check`` each."""
    config = method_config(name, **options)
    cls = MIX_METHODS[name]
    if not cls.mixes_in(config):
        return cls, [
            Check(
                "mixes", False, f"{name} mixes nothing at these settings (its off: {cls.off}): give options"
            )
        ]
    images = "images" in cls.requirements(config)
    data = _data(images=True) if images else _data(images=False)
    checks = [
        _seeded(cls, config, data),
        _resumes(cls, config, data),
        _no_global_rng(cls, config, data),
        _targets(cls, config, data),
        _resumes_in_a_trial(config, data),
        _off(cls, config, data),
        _precision(cls, config, data),
        _data_refused(cls, config),
    ]
    return cls, checks


# The method alone, on the tiny data: its batches, epoch by epoch.


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


def _seed_globals(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def _saved(state: dict[str, Any]) -> dict[str, Any]:
    buffer = io.BytesIO()
    torch.save(state, buffer)  # nothing shared with the live objects, as a checkpoint file
    buffer.seek(0)
    loaded: dict[str, Any] = torch.load(buffer, weights_only=False)
    return loaded


def _same(a: list[Fingerprint], b: list[Fingerprint]) -> int | None:
    """The first batch at which two runs differ, or None."""
    if len(a) != len(b):
        return min(len(a), len(b))
    for i, (one, two) in enumerate(zip(a, b)):
        if any(x.shape != y.shape or not torch.equal(x, y) for x, y in zip(one, two)):
            return i
    return None


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as error:  # a method that raises fails the check, with its reason
        return Check(
            name, False, f"raised {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        )


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


@contextmanager
def _fork_rng() -> Iterator[None]:
    """The global torch, numpy and ``random`` generators as they were, afterwards."""
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        torch.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])


def _global_states() -> tuple[Any, ...]:
    numpy_state: Any = np.random.get_state()
    return torch.get_rng_state(), numpy_state[1].copy(), random.getstate()


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


# Whole trials on the tiny data.


def _splits(images: bool, count: int = EXAMPLES) -> Splits:
    generator = torch.Generator().manual_seed(1)
    if images:
        x = torch.randint(0, 256, (count + 16, 3, 8, 8), dtype=torch.uint8, generator=generator)
    else:
        x = torch.randn(count + 16, 6, generator=generator)
    y = torch.arange(count + 16) % CLASSES
    return Splits(x[:count], y[:count], x[count:], y[count:], CLASSES, origin="mixup-tune check")


def _trial_config(config: TrainConfig, images: bool, **changes: Any) -> TrainConfig:
    values = {
        **config.to_dict(),
        "model": "cnn" if images else "mlp",
        "hidden_sizes": (16,),
        "epochs": EPOCHS,
    }
    values.update(batch_size=BATCH, seed=SEED, device="cpu", precision="fp32", augment=False, **changes)
    return TrainConfig(**values)


def _trained(
    config: TrainConfig, images: bool, stop_after: int | None = None
) -> tuple[list[dict[str, Any]], dict[str, Tensor]]:
    """A trial's history and final weights; stopped after ``stop_after`` epochs and resumed from its
    checkpoint when given."""
    splits = _splits(images)
    captured: dict[str, Any] = {}
    if stop_after is None:
        result = train(config, on_epoch=lambda metrics, state: captured.update(state=state()), splits=splits)
        return result.history, captured["state"]["model"]

    class Stop(Exception):
        pass

    def stop(metrics: dict[str, Any], state: Callable[[], dict[str, Any]]) -> None:
        if metrics["epoch"] == stop_after:
            captured["checkpoint"] = _saved(state())
            raise Stop

    try:
        train(config, on_epoch=stop, splits=splits)
    except Stop:
        pass
    result = train(
        config,
        on_epoch=lambda metrics, state: captured.update(state=state()),
        resume_state=captured["checkpoint"],
        splits=splits,
    )
    return result.history, captured["state"]["model"]


def _same_training(
    a: tuple[list[dict[str, Any]], dict[str, Tensor]], b: tuple[list[dict[str, Any]], dict[str, Tensor]]
) -> bool:
    numbers = lambda history: [{k: v for k, v in m.items() if isinstance(v, float)} for m in history]
    return numbers(a[0]) == numbers(b[0]) and all(torch.equal(a[1][k], b[1][k]) for k in a[1])


def _resumes_in_a_trial(config: TrainConfig, data: _Tiny) -> Check:
    def check() -> Check:
        images = data.x.dim() == 4
        trial = _trial_config(config, images)
        if not _same_training(_trained(trial, images), _trained(trial, images, stop_after=1)):
            return Check(
                "resume in a trial",
                False,
                f"a trial stopped after epoch 1 of {EPOCHS} and resumed ends elsewhere",
            )
        return Check("resume in a trial", True, f"stopped after epoch 1 of {EPOCHS} and resumed: bit for bit")

    return _guarded("resume in a trial", check)


def _off(cls: type[MixMethod], config: TrainConfig, data: _Tiny) -> Check:
    off_settings = cls.off
    if off_settings is None:
        return Check("off", None, "the method declares no off setting")
    described = ", ".join(f"{key} {value}" for key, value in off_settings.items())

    def check() -> Check:
        images = data.x.dim() == 4
        shared = {key: value for key, value in off_settings.items() if key not in cls.options}
        own = {key: value for key, value in off_settings.items() if key in cls.options}
        mix = {**config.mix, **own} if config.mix else {}
        off = _trial_config(config, images, mix=mix, **shared)
        erm = _trial_config(TrainConfig(), images)
        if not _same_training(_trained(off, images), _trained(erm, images)):
            return Check("off", False, f"at {described} the trial does not train as ERM")
        return Check("off", True, f"at {described} the trial trains exactly as ERM")

    return _guarded("off", check)


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


def _data_refused(cls: type[MixMethod], config: TrainConfig) -> Check:
    def check() -> Check:
        if "images" not in cls.requirements(config):
            for images in (False, True):
                _trained(_trial_config(config, images, epochs=1), images)
            return Check("data", True, "takes feature vectors and images alike")
        try:
            _trained(_trial_config(config, False, epochs=1), False)
        except (ConfigError, DatasetError) as error:
            line = str(error)
            if "\n" in line or not line:
                return Check("data", False, "feature vectors are refused, but not in one line")
            return Check("data", True, f"feature vectors refused in one line: {line}")
        return Check("data", False, "it needs images, yet a trial on feature vectors was not refused")

    return _guarded("data", check)
