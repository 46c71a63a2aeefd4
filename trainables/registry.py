"""A name -> builder table, for datasets and models, with errors that list the known names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@DATASETS.register("digits")``."""

        def add(item: T) -> T:
            taken = self._items.get(name)
            if taken is not None and _origin(taken) != _origin(item):
                # a plugin cannot pass for a built-in, nor two plugins for each other; the same object
                # registered again (its module imported twice) replaces itself
                raise ValueError(f"{self.kind} {name!r} is taken by {_origin(taken)}; choose another name")
            self._items[name] = item
            return item

        return add

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def unknown(self, name: str) -> str:
        return f"unknown {self.kind} {name!r}; known: {', '.join(self.names()) or 'none registered'}"

    def __getitem__(self, name: str) -> T:
        if name not in self._items:
            raise KeyError(self.unknown(name))
        return self._items[name]


def _origin(item: object) -> str:
    """Where a registered object was defined: its module and qualified name (for a function or class), or
    its type's (for an instance, such as a metric)."""
    named = item if hasattr(item, "__qualname__") else type(item)
    return f"{getattr(named, '__module__', '?')}.{getattr(named, '__qualname__', '?')}"
