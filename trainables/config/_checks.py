"""Checks every option section shares: range checks that name the option, and strict types.

Strict types are what pydantic's lax mode would let through, refused with the option's name: used
by the configs' own checks and by the sweep spec (``mixup_tune.spec``), on nested or dotted dicts of
options, before any config is built.
"""

from __future__ import annotations

import functools
import math
import types
import typing
from dataclasses import fields, is_dataclass
from typing import Any, Literal

from ..errors import ConfigError

FORBID_EXTRA = {"extra": "forbid"}


# The mixing methods ``mix_method`` names (its type): their options are the trial's own (alpha, lambda_per,
# mix_*), never under ``mix:``. trainables.mixing registers them as it does every method.
MixMethodName = Literal["mixup", "cutmix", "manifold_mixup"]
BUILTIN_MIX_METHODS: tuple[str, ...] = typing.get_args(MixMethodName)


def require(ok: bool, field_name: str, message: str) -> None:
    if not ok:
        raise ConfigError(field_name, message)


def finite(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def normalise_types(config: Any) -> None:
    """Give each field its declared type's canonical form (1 -> 1.0, [a, b] -> (a, b)).

    The same trial must compare and hash equal however its values were written:
    in YAML, as Ray restores them, or as a checkpoint stores them.
    """
    for f in fields(config):
        value = getattr(config, f.name)
        if f.type in ("float", "float | None") and isinstance(value, int) and not isinstance(value, bool):
            setattr(config, f.name, float(value))
        elif isinstance(value, list):
            setattr(config, f.name, tuple(value))


def type_problem(expected: Any, value: Any) -> str | None:
    """What is wrong with ``value``'s type for a field declared ``expected``, strictly; None if nothing.

    Stricter than pydantic's lax mode, which takes ``true`` for 1 and ``"5"``
    for 5: a boolean is not a number, a number is not a boolean, and a
    numeric string is neither. An int is accepted for a float.
    """
    origin, args = typing.get_origin(expected), typing.get_args(expected)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        problems = [type_problem(arg, value) for arg in args if arg is not type(None)]
        return None if any(p is None for p in problems) else problems[0]
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return f"must be a list; got {value!r}"
        items = args[:1] * len(value) if len(args) == 2 and args[1] is Ellipsis else args
        if len(items) != len(value):
            return f"must be a list of {len(items)} values; got {len(value)}"
        return next(
            (
                f"[{i}] {problem}"
                for i, (t, v) in enumerate(zip(items, value))
                if (problem := type_problem(t, v)) is not None
            ),
            None,
        )
    if expected is bool and not isinstance(value, bool):
        return f"must be true or false; got {value!r}"
    if expected in (int, float) and (
        isinstance(value, bool) or not isinstance(value, (int, float) if expected is float else int)
    ):
        kind = "an integer" if expected is int else "a number"
        what = (
            "a boolean"
            if isinstance(value, bool)
            else "a string"
            if isinstance(value, str)
            else f"a {type(value).__name__}"
        )
        return f"must be {kind}, not {what}; got {value!r}"
    if expected is str and not isinstance(value, str):
        return f"must be a string; got {value!r}"
    return None  # Literal names and nested configs are checked elsewhere (__post_init__, check_option_types)


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def check_option_types(cls: type, values: dict[str, Any], prefix: str = "") -> None:
    """Raise ConfigError for the first value whose type is wrong, in a nested or dotted dict of ``cls``'s
    options.

    Unknown names are left to the validation that knows what to suggest.
    """
    types_of = _field_types(cls)
    for key, value in values.items():
        name, _, rest = str(key).partition(".")
        if name not in types_of:
            continue
        expected = types_of[name]
        if rest:
            if is_dataclass(expected):
                check_option_types(expected, {rest: value}, f"{prefix}{name}.")  # type: ignore[arg-type]
            continue
        if is_dataclass(expected) and isinstance(value, dict):
            check_option_types(expected, value, f"{prefix}{name}.")  # type: ignore[arg-type]
            continue
        problem = type_problem(expected, value)
        if problem is not None:
            raise ConfigError(f"{prefix}{name}", problem)


def check_own_types(config: Any) -> None:
    """The same check on a constructed config: catches ``TrainConfig(epochs=True)`` built in Python."""
    check_option_types(
        type(config),
        {
            f.name: getattr(config, f.name)
            for f in fields(config)
            if not is_dataclass(getattr(config, f.name))
        },
    )
