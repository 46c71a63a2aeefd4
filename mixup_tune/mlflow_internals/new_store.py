"""A new sqlite store in milliseconds: a copy of an empty one that MLflow migrated once, per MLflow version.

MLflow makes a new sqlite store by running every one of its migrations (about
2 s on a 2-core machine, on the path of a sweep's start); opening a migrated
one takes 0.1 s. So the first new store on a machine is migrated by MLflow
into the cache (``$MIXUP_TUNE_CACHE``, else ``~/.cache/mixup_tune``, as the
datasets' cache), and later ones are copies of it. The template holds no
experiment: MLflow adds its default experiment when it first opens the copy,
with the artifact location it would have given it. Wherever the fast way
fails (no cache to write, a file system without hard links), MLflow makes the
store its own way. ``tests/mlflow_internals/test_new_store.py`` holds the copy equal
to a store MLflow makes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

CACHE_VARIABLE = "MIXUP_TUNE_CACHE"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_VARIABLE) or Path.home() / ".cache" / "mixup_tune").expanduser()


def create_sqlite_store(path: Path) -> bool:
    """Make the store at ``path`` from the migrated template, if nothing is there yet; whether it did.

    Never replaces a file: a store another process made meanwhile is kept. Any failure returns False, and
    opening the store then makes it MLflow's way (or fails with MLflow's own error, which the caller reports).
    """
    if path.exists() or not path.parent.is_dir():
        return False
    try:
        template = _empty_store()
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=False) as copy:
            partial = Path(copy.name)
        try:
            shutil.copyfile(template, partial)
            os.link(partial, path)  # all at once, and only where there is still no file
        finally:
            partial.unlink(missing_ok=True)
    except Exception:  # whatever it was, MLflow's own way still works, or says why not
        return False
    return True


def _empty_store() -> Path:
    """The migrated store without its default experiment, made once per MLflow version."""
    template = cache_dir() / f"mlflow-{mlflow.__version__}-empty.db"
    if template.exists():
        return template
    template.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=template.parent, prefix=".mlflow-", delete=False) as new:
        migrated = Path(new.name)
    try:
        migrated.unlink()  # MLflow creates the file itself
        MlflowClient(f"sqlite:///{migrated}").search_experiments(max_results=1)
        with contextlib.closing(sqlite3.connect(migrated)) as database, database:
            database.execute("DELETE FROM experiment_tags")
            database.execute("DELETE FROM experiments")
        os.replace(migrated, template)  # two processes making it at once each write a whole one
    finally:
        migrated.unlink(missing_ok=True)
    return template
