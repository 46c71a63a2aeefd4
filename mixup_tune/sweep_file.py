"""Reading a sweep file: YAML, with ``--set key=value`` overrides, into a validated ``SweepSpec``.

Every problem is one ``SpecError`` line: ``FILE: KEY: what is allowed``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from trainables import option_names

from .spec import SpecError, SweepSpec, validate_spec


def load_spec(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> SweepSpec:
    """Read, override and validate a sweep file; raise SpecError with one line naming the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such sweep file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: cannot read sweep file ({type(error).__name__})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise SpecError(f"{path}: {where}YAML syntax error: {problem}") from None
    if document is None:
        raise SpecError(f"{path}: the sweep file is empty")
    if not isinstance(document, dict):
        raise SpecError(
            f"{path}: a sweep file is a mapping of keys (name, trainable, search, ...); got "
            f"{type(document).__name__}"
        )
    for override in overrides:
        apply_override(document, override)
    return validate_spec(document, source=str(path))


def apply_override(document: dict[str, Any], override: str) -> None:
    """``key=value`` with a dotted key; the value is parsed as YAML (``[0, 1]``, ``0.1``, ``true``).

    A bare trainable option (``epochs=2``) means ``search.epochs`` when the
    sweep has that axis and ``trainable.epochs`` otherwise.
    """
    key, sep, raw = override.partition("=")
    if not sep or not key:
        raise SpecError(f"--set {override!r}: expected key=value")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise SpecError(f"--set {key}: cannot parse value {raw!r}") from None
    top = key.split(".")[0]
    if top not in SweepSpec.model_fields:
        if key not in option_names():
            raise SpecError(
                f"--set {key}: unknown key; use a spec key (name, trainable.epochs, search.alpha, ...) or a "
                "trainable option"
            )
        key = f"search.{key}" if key in (document.get("search") or {}) else f"trainable.{key}"
    node = document
    parts = key.split(".")
    if parts[0] == "search":  # search keys are themselves dotted (optimizer.lr)
        parts = ["search", ".".join(parts[1:])] if len(parts) > 1 else parts
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise SpecError(f"--set {key}: {part} is not a mapping")
        node = child
    node[parts[-1]] = value
