"""What the checks share: the tiny setting's sizes, a check's line, and the global generators set aside."""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

EXAMPLES, CLASSES, BATCH, EPOCHS, SEED = 32, 4, 8, 3, 7


@dataclass
class Check:
    name: str
    passed: bool | None  # None: does not apply to this method
    detail: str

    def line(self) -> str:
        mark = "n/a " if self.passed is None else "ok  " if self.passed else "FAIL"
        return f"  {mark}  {self.name}: {self.detail}"


def _guarded(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as error:  # a method that raises fails the check, with its reason
        return Check(
            name, False, f"raised {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        )


def _saved(state: dict[str, Any]) -> dict[str, Any]:
    buffer = io.BytesIO()
    torch.save(state, buffer)  # nothing shared with the live objects, as a checkpoint file
    buffer.seek(0)
    loaded: dict[str, Any] = torch.load(buffer, weights_only=False)
    return loaded


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


def _seed_globals(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
