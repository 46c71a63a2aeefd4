"""A trial's options as a flat config, as sweeps, Ray Tune and MLflow hold them: dotted keys
(``flatten``, ``unflatten``), and the dict-valued options each as one value (``OptionGroup``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

GROUPED = ("mix", "model_options")  # the dict-valued options, each one value in a Ray Tune config
# In a sweep's trial config beside its options: the versions of the plugins whose code the trial runs, as
# they were when the trial was made (an OptionGroup), so that its key stays its own after a plugin is edited
PLUGIN_VERSIONS = "plugin_versions"


class OptionGroup(str):
    """A dict-valued option (``mix``, ``model_options``) as one value of a flat config: its JSON text.

    Ray Tune reads a dict or dotted keys in a config as more config, and gave a grid's trial, for a key its
    setting lacked (mix.scope in one variant only), the search space's value; any other object it stores
    by reference, and looks it up again by position. A string it leaves alone, so each trial keeps its
    own. ``TrainConfig`` takes it as the dict it holds.
    """

    def __new__(cls, items: Mapping[str, Any] | str | None = None) -> OptionGroup:
        text = items if isinstance(items, str) else json.dumps(dict(items or {}), sort_keys=True)
        return super().__new__(cls, text)

    @property
    def items(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self)
        return loaded

    def get(self, key: str, default: Any = None) -> Any:
        return self.items.get(key, default)


def grouped(point: dict[str, Any]) -> dict[str, Any]:
    """A flat config with its ``mix.*`` and ``model_options.*`` keys (and any ``mix`` or ``model_options``
    dict) gathered into one ``OptionGroup`` each, present in every config."""
    out = {
        key: value for key, value in point.items() if key not in GROUPED and key.split(".")[0] not in GROUPED
    }
    for name in GROUPED:
        given = point.get(name)
        items = dict(given.items if isinstance(given, OptionGroup) else given or {})
        items.update(
            {key[len(name) + 1 :]: value for key, value in point.items() if key.startswith(f"{name}.")}
        )
        out[name] = OptionGroup(items)
    return out


def option_value(config: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """A dotted option's value in a flat config, whether its group is dotted or one ``OptionGroup``."""
    if key in config:
        return config[key]
    group, _, rest = key.partition(".")
    value = config.get(group) if rest else None
    if isinstance(value, str) and value.startswith("{"):  # a group's text, as Ray's saved state has it
        value = OptionGroup(value)
    if isinstance(value, (Mapping, OptionGroup)):
        return value.get(rest, default)
    return default


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def unflatten(values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        parts = key.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if isinstance(value, dict) and isinstance(node.get(parts[-1]), dict):
            node[parts[-1]].update(value)
        else:
            node[parts[-1]] = value
    return out
