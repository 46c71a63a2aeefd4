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

from typing import Any

from ..config import BUILTIN_MIX_METHODS, TrainConfig
from ..errors import ConfigError
from ..mixing import MIX_METHODS, MixMethod
from ._batches import _data, _no_global_rng, _precision, _resumes, _seeded, _targets
from ._common import Check
from ._trials import _data_refused, _off, _resumes_in_a_trial

__all__ = ["Check", "check_method", "method_config"]


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
