"""What identifies a trial (its key and params) and the code that ran it."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

from mlflow.entities import Param

from trainables import TrainConfig

# Options that say where a trial runs, not what it computes: left out of its identity.
_PLACEMENT_OPTIONS = ("device", "data_root", "download", "loader_workers")


def trial_key(config: dict[str, Any]) -> str:
    """A stable id for a trial: the hash of its full, validated config."""
    flat = TrainConfig.from_dict(config).flat()
    identity = {k: v for k, v in flat.items() if k not in _PLACEMENT_OPTIONS}
    return hashlib.sha1(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def code_version() -> str:
    """The git commit of this checkout ("-dirty" with local changes), else the package version."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"mixup-tune {version('mixup-tune')}"
        except PackageNotFoundError:
            return "unknown"


def mlflow_params(config: dict[str, Any]) -> list[Param]:
    """A trial's flat options as MLflow params: lists as JSON, everything else as text."""
    flat = TrainConfig.from_dict(config).flat()
    return [
        Param(key, json.dumps(value) if isinstance(value, (list, tuple)) else str(value))
        for key, value in sorted(flat.items())
    ]
