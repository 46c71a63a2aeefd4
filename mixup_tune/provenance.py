"""What code a sweep runs beyond this package, for Ray and for the record: its plugins, shipped to every
worker through Ray's runtime environment and recorded with their versions or digests, and this checkout's
uncommitted changes.

The plugins were imported when the spec was validated (``spec.validate_spec``); here they are only read
back (``trainables.plugins.loaded_plugins``).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from trainables.plugins import Plugin, loaded_plugins

from .records import tags
from .spec import SweepSpec

REPO = Path(__file__).resolve().parents[1]


def sweep_plugins(spec: SweepSpec) -> list[Plugin]:
    """The plugins the sweep's trials may run: the installed packages' and the spec's, as imported here."""
    return loaded_plugins()


def worker_modules(spec: SweepSpec) -> list[str]:
    """The modules a trial's worker imports before it builds the trial (a .py plugin by its name: the
    runtime environment ships the file), in the order the driver imported them."""
    return [plugin.module for plugin in sweep_plugins(spec)]


def runtime_env(spec: SweepSpec) -> dict[str, Any] | None:
    """Ray's runtime environment for the sweep: the files of its plugins that are not installed packages
    (``py_modules``), so that every worker, on every node, can import them. None without any."""
    shipped = sorted({plugin.shipped for plugin in sweep_plugins(spec) if plugin.shipped})
    return {"py_modules": shipped} if shipped else None


def provenance_tags(spec: SweepSpec) -> dict[str, str]:
    """Tags every trial run gets: the plugins loaded, each ``module (version or sha256 digest)``."""
    plugins = sweep_plugins(spec)
    return {tags.PLUGINS: "; ".join(plugin.describe() for plugin in plugins)} if plugins else {}


def source_files(spec: SweepSpec) -> list[tuple[str, str]]:
    """The plugins' source files, each with the artifact folder it is logged in (``plugins/<module>/...``,
    a package's files by their place in it)."""
    files = []
    for plugin in sweep_plugins(spec):
        if not plugin.files:
            continue
        root = Path(os.path.commonpath([str(Path(source).parent) for source in plugin.files]))
        for source in plugin.files:
            inside = Path(source).parent.relative_to(root)
            files.append((str(Path("plugins", plugin.module, inside)), source))
    return files


def uncommitted_diff() -> str | None:
    """This checkout's uncommitted changes to tracked files (``git diff HEAD``), or None when clean or not a
    git checkout: what ``code_version``'s ``-dirty`` stands for."""
    try:
        diff = subprocess.run(
            ["git", "diff", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return diff or None
