"""The mixing-method registry: names to ``MixMethod`` classes, below the methods that fill it (as the model
and dataset registries are), with the checks a trial's ``mix:`` options pass."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..registry import Registry
from ._protocol import NEEDS, SHARED_OPTIONS, MixContext, MixMethod, Option

if TYPE_CHECKING:
    from ..config import TrainConfig

MIX_METHODS: Registry[type[MixMethod]] = Registry("mixing method")
mix_method_names = MIX_METHODS.names
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def register_mix_method(cls: type[MixMethod]) -> type[MixMethod]:
    """Class decorator: add a ``MixMethod`` subclass to the registry under its ``name``.

    The declarations are checked here, so that a broken method fails where it is defined, in one line. A
    name already taken by another class is refused: a plugin cannot pass itself off as a built-in. The same
    class registered again (its module imported twice) replaces itself.
    """
    where = f"{cls.__module__}.{cls.__qualname__}"
    problem = _declaration_problem(cls)
    if problem:
        raise TypeError(f"mixing method {where}: {problem}")
    if cls.name in MIX_METHODS:
        taken = MIX_METHODS[cls.name]
        owner = f"{taken.__module__}.{taken.__qualname__}"
        if owner != where:
            raise ValueError(f"mixing method {where}: the name {cls.name!r} is taken by {owner}")
    MIX_METHODS.register(cls.name)(cls)
    return cls


def _declaration_problem(cls: type[MixMethod]) -> str | None:
    if not (isinstance(cls, type) and issubclass(cls, MixMethod)):
        return "is not a subclass of trainables.MixMethod"
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not _NAME.match(name):
        return (
            f"name must be lower case letters, digits and underscores, starting with a letter; got {name!r}"
        )
    if not isinstance(getattr(cls, "display_name", None), str) or not cls.display_name.strip():
        return "display_name must be a non-empty string (how tables and figures name the method)"
    if not isinstance(cls.citation, str):
        return "citation must be a string"
    unknown_needs = set(cls.needs) - set(NEEDS)
    if unknown_needs:
        return f"needs {sorted(unknown_needs)}: known needs are {', '.join(NEEDS)}"
    unknown_uses = set(cls.uses) - set(SHARED_OPTIONS)
    if unknown_uses:
        return f"uses {sorted(unknown_uses)}: a method may read {', '.join(SHARED_OPTIONS)}"
    if not isinstance(cls.options, Mapping):
        return "options must be a mapping of names to trainables.Option"
    for key, option in cls.options.items():
        if not isinstance(option, Option):
            return f"option {key!r} must be a trainables.Option"
        if key == "method" or not _NAME.match(str(key)):
            return f"option name {key!r} is not allowed (lower case, not 'method')"
        try:
            option.check(f"mix.{key}", option.default)
        except ConfigError as error:
            return f"option {key!r}'s default is outside its own range ({error.message})"
    if cls.off is not None:
        stray = set(cls.off) - set(cls.uses) - set(cls.options)
        if stray:
            return f"off names {sorted(stray)}, which are neither in uses nor in options"
    if cls.mix is MixMethod.mix:
        return "defines no mix(self, x, y, draws)"
    return None


def method_class(config: TrainConfig) -> type[MixMethod]:
    """The class of the method a trial mixes with."""
    return MIX_METHODS[config.mix_method_name]


def checked_options(config: TrainConfig) -> dict[str, Any]:
    """A registry method's ``mix:`` block, checked and canonical: the method, then every option (defaults
    filled in), so that equal trials compare, hash and log the same however they were written.

    Raises ConfigError naming the first problem: an unknown method or option, a value out of range, a trial
    option of the mixup family the method does not read that is not at its default, or what the method's
    own ``check_config`` refuses.
    """
    name = config.mix.get("method")
    if not isinstance(name, str) or name not in MIX_METHODS:
        raise ConfigError("mix.method", MIX_METHODS.unknown(str(name)))
    cls = MIX_METHODS[name]
    given = {key: value for key, value in config.mix.items() if key != "method"}
    for key in given:
        if key not in cls.options:
            known = ", ".join(sorted(cls.options)) or "none"
            raise ConfigError(f"mix.{key}", f"unknown option of {name}; its options: {known}")
    options = {
        key: option.check(f"mix.{key}", given.get(key, option.default)) for key, option in cls.options.items()
    }
    defaults = type(config)()  # the trial options' defaults
    for shared in SHARED_OPTIONS:
        if shared not in cls.uses and getattr(config, shared) != getattr(defaults, shared):
            raise ConfigError(
                shared,
                f"{name} does not read it: leave it at {getattr(defaults, shared)!r}"
                + (
                    f" (its options: {', '.join(f'mix.{key}' for key in cls.options)})" if cls.options else ""
                ),
            )
    return {"method": name, **options}


def build_mix_method(config: TrainConfig, context: MixContext) -> MixMethod:
    """The trial's method, ready to mix."""
    cls = method_class(config)
    options = {key: value for key, value in config.mix.items() if key != "method"}
    return cls(config, options, context)
