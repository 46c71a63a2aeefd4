"""Models from outside the registry, by name: any classification model of torchvision
(``torchvision/resnet18``), of timm when it is installed (``timm/resnet18``), and any callable by import
string (``mypkg.nets:MyNet``, as Hydra's ``_target_``), each with ``model_options`` and the number of classes
filled in.

Built untrained (no weights are downloaded: trials run offline). torchvision's models take 3 channels: a
single-channel dataset's images are repeated into three, as is usual for Fashion-MNIST on ImageNet
architectures. An import-string callable gets ``num_classes``, ``input_shape`` and ``in_channels`` where
its signature names them, and ``model_options`` as keywords.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

TORCHVISION, TIMM = "torchvision/", "timm/"


def is_ecosystem_name(name: str) -> bool:
    """Whether ``name`` is one of this module's (a prefix or an import string) rather than a registry name."""
    return name.startswith((TORCHVISION, TIMM)) or ":" in name


def name_problem(name: str) -> str | None:
    """What is wrong with an ecosystem model name, in words; None if it can be built."""
    if name.startswith(TORCHVISION):
        known = _torchvision_names()
        model = name.removeprefix(TORCHVISION)
        if model not in known:
            close = [k for k in known if k.startswith(model[:4])][:6] or known[:6]
            return f"torchvision has no classification model {model!r}; e.g. {', '.join(close)}"
        return None
    if name.startswith(TIMM):
        try:
            import timm
        except ImportError:
            return f"{name} needs timm, which is not installed: pip install 'mixup-tune[timm]'"
        model = name.removeprefix(TIMM)
        if not timm.is_model(model):
            return f"timm has no model {model!r} (timm.list_models() names them)"
        return None
    try:
        _target(name)
    except (ImportError, AttributeError, ValueError) as error:
        return str(error)
    return None


def build_ecosystem_model(
    name: str, input_shape: tuple[int, ...], num_classes: int, options: Mapping[str, Any]
) -> nn.Module:
    if name.startswith(TORCHVISION):
        from torchvision import models

        channels = _image_channels(name, input_shape)
        model = models.get_model(
            name.removeprefix(TORCHVISION), weights=None, num_classes=num_classes, **options
        )
        return model if channels == 3 else RepeatChannels(model)
    if name.startswith(TIMM):
        import timm

        channels = _image_channels(name, input_shape, any_count=True)
        return timm.create_model(
            name.removeprefix(TIMM), pretrained=False, num_classes=num_classes, in_chans=channels, **options
        )
    target = _target(name)
    given: dict[str, Any] = dict(options)
    parameters = inspect.signature(target).parameters
    filled = {
        "num_classes": num_classes,
        "input_shape": tuple(input_shape),
        "in_channels": input_shape[0] if len(input_shape) == 3 else None,
    }
    for key, value in filled.items():
        if key in parameters and key not in given and value is not None:
            given[key] = value
    model = target(**given)
    if not isinstance(model, nn.Module):
        raise ValueError(f"model {name}: {type(model).__name__} is not a torch.nn.Module")
    return model


class RepeatChannels(nn.Module):
    """One grey channel repeated into the three a torchvision model takes."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x.expand(-1, 3, -1, -1))


def _image_channels(name: str, input_shape: tuple[int, ...], any_count: bool = False) -> int:
    if len(input_shape) != 3:
        raise ValueError(f"needs images (channels, height, width); this dataset's examples are {input_shape}")
    channels = input_shape[0]
    if not any_count and channels not in (1, 3):
        raise ValueError(f"takes 1 or 3 channels; this dataset's images have {channels}")
    return channels


def _torchvision_names() -> list[str]:
    from torchvision import models

    return sorted(models.list_models(module=models))


def _target(name: str) -> Callable[..., Any]:
    """The callable an import string ``package.module:Attribute`` names (one line if it cannot be found)."""
    module_name, _, attribute = name.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{name!r} is not an import string: package.module:Callable")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(
            f"{name}: cannot import {module_name!r} ({error}); install it, or list its file under plugins:"
        ) from None
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise AttributeError(f"{name}: module {module_name!r} has no {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise ValueError(f"{name}: {attribute!r} is not callable")
    return target


def forward_problem(model: nn.Module, input_shape: tuple[int, ...], name: str) -> str | None:
    """Whether the model takes a batch of this data's shape, tried on two zero examples (eval mode, no
    gradient): the error's first line if not. Run once as a trial starts, so that a model that cannot take
    the data fails there in one line rather than mid-epoch."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(2, *input_shape))
    except Exception as error:
        text = str(error).splitlines()[0] if str(error) else type(error).__name__
        return f"model {name} cannot take this dataset's {'x'.join(map(str, input_shape))} inputs: {text}"
    finally:
        model.train(was_training)
    return None
