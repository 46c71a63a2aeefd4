"""Every exception class of the project survives Ray's copy and pickle with its message (issue 28: a trial's
ConfigError reached MLflow as "TypeError: ConfigError.__init__() missing 1 required positional argument").
tests/integration/test_plugins.py raises each one in a real Ray trial."""

from __future__ import annotations

import copy
import importlib
import pickle
import pkgutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.append(str(REPO / "tests" / "fixtures" / "plugins"))
from raising_methods import RAISED, make  # noqa: E402


def project_exception_classes() -> set[str]:
    """Every exception class defined in trainables, mixup_tune and analysis (each module imported)."""
    found = set()
    for package in ("trainables", "mixup_tune", "analysis"):
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, f"{package}."):
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                if (
                    isinstance(value, type)
                    and issubclass(value, BaseException)
                    and value.__module__ == info.name
                ):
                    found.add(f"{info.name}.{value.__qualname__}")
    return found


def test_the_raising_plugin_covers_every_exception_class_of_the_project() -> None:
    assert project_exception_classes() == set(RAISED)


@pytest.mark.parametrize("path", sorted(RAISED))
def test_each_exception_class_survives_copy_and_pickle_with_its_message(path: str) -> None:
    error = make(path)
    for again in (copy.copy(error), pickle.loads(pickle.dumps(error))):
        assert type(again) is type(error) and str(again) == str(error) and again.args == error.args
        assert vars(again) == vars(error)  # ConfigError's field and message too
