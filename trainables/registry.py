"""A name -> builder table, for datasets and models, with errors that list the known names.

A name is either registered (``@register_model("name")``: a user's plugin, imported) or declared with
where its code is, ``"package.module:attribute"``, and imported on first use (gymnasium's
``register(id, entry_point=...)``): the built-ins are declared (``trainables.catalogue``), so that their
names are known, and a config naming them checked, without importing torch.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Generic, TypeVar, cast

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._declared: dict[str, str] = {}  # name -> "package.module:attribute", imported on first use

    def declare(self, name: str, entry_point: str) -> None:
        """A built-in: ``name``'s object is ``entry_point``'s attribute, imported when first asked for."""
        module, _, attribute = entry_point.partition(":")
        if not module or not attribute:
            raise ValueError(f"{self.kind} {name!r}: entry point {entry_point!r} is not 'module:attribute'")
        if name in self:
            raise ValueError(f"{self.kind} {name!r} is declared twice")
        self._declared[name] = entry_point

    def is_builtin(self, name: str) -> bool:
        """Whether ``name`` is one of the declared built-ins (not a plugin's)."""
        return name in self._declared

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@DATASETS.register("digits")``."""

        def add(item: T) -> T:
            taken = self._origin_of(name)
            if taken is not None and taken != _origin(item):
                # a plugin cannot pass for a built-in, nor two plugins for each other; the same object
                # registered again (its module imported twice) replaces itself
                raise ValueError(f"{self.kind} {name!r} is taken by {taken}; choose another name")
            self._items[name] = item
            return item

        return add

    def _origin_of(self, name: str) -> str | None:
        if name in self._items:
            return _origin(self._items[name])
        if name in self._declared:
            return self._declared[name].replace(":", ".")
        return None

    def names(self) -> list[str]:
        return sorted({*self._items, *self._declared})

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._declared

    def unknown(self, name: str) -> str:
        return f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or 'none registered'}"

    def __getitem__(self, name: str) -> T:
        if name not in self._items:
            if name not in self._declared:
                raise KeyError(self.unknown(name))
            module, _, attribute = self._declared[name].partition(":")
            found = functools.reduce(getattr, attribute.split("."), importlib.import_module(module))
            self._items[name] = cast(T, found)
        return self._items[name]


def _origin(item: object) -> str:
    """Where a registered object was defined: its module and qualified name (for a function or class), or
    its type's (for an instance, such as a metric)."""
    named = item if hasattr(item, "__qualname__") else type(item)
    return f"{getattr(named, '__module__', '?')}.{getattr(named, '__qualname__', '?')}"
