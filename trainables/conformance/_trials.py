"""Whole trials of a method on tiny data: stopped and resumed, at the method's off settings against ERM,
and on data it cannot take."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from ..config import TrainConfig
from ..data import Splits
from ..errors import ConfigError, DatasetError
from ..mixing import MixMethod
from ..tasks import train
from ._batches import _Tiny
from ._common import BATCH, CLASSES, EPOCHS, EXAMPLES, SEED, Check, _guarded, _saved


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
