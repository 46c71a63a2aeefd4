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
            self._items[name] = item
            return item

        return add

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def unknown(self, name: str) -> str:
        return f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}"

    def __getitem__(self, name: str) -> T:
        if name not in self._items:
            raise KeyError(self.unknown(name))
        return self._items[name]
