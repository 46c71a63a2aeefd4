"""A user's table: the ``csv`` and ``parquet`` datasets, one row per example (pandas; pyarrow for parquet).

- ``label_column`` holds the labels. Whatever their type, the classes are the distinct values in sorted
  order (strings alphabetically, numbers by value), numbered 0..K-1; the trial records their names.
- ``split_column``, if given, says ``train``, ``test`` (and ``val``) per row; else the rows are split as
  the UCI sets are: stratified 80/20 with the fixed ``SPLIT_SEED``, the same for every trial (a class of
  one example goes to training).
- Every other column is a feature. A numeric or boolean column is one feature; its missing values take the
  training split's median. Any other column is categorical: one-hot over the values the training split
  has (missing is a value of its own, ``(missing)``); a value only the test split has is all zeros.
- Then the checks every dataset passes (``_checks``): finite features, labels in range, classes the
  training split shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DatasetError
from ._common import missing, unreadable
from ._splits import Source, Splits
from .tabular import TEST_FRACTION, split_rows, tabular_splits

MISSING = "(missing)"
SPLITS = ("train", "test", "val")


def _csv(source: Source) -> Splits:
    return _table(source, "csv")


def _parquet(source: Source) -> Splits:
    return _table(source, "parquet")


def _table(source: Source, kind: str) -> Splits:
    import pandas as pd

    path = source.data_path
    if path is None or not path.is_file():
        raise missing(kind, f"a .{kind} file at data_path (got {path})")
    try:
        frame = pd.read_csv(path) if kind == "csv" else pd.read_parquet(path)
    except (ValueError, OSError, UnicodeDecodeError, ImportError) as error:
        raise unreadable(kind, path, error) from error
    label, split = source.label_column, source.split_column
    for role, column in (("label_column", label), ("split_column", split)):
        if column is not None and column not in frame.columns:
            shown = ", ".join(map(str, frame.columns[:12])) + (", ..." if len(frame.columns) > 12 else "")
            raise DatasetError(
                f"dataset {kind!r} ({path}): {role} {column!r} is not a column; columns: {shown}"
            )
    if label is None:
        raise DatasetError(f"dataset {kind!r} ({path}): label_column is required")
    if frame[label].isna().any():
        rows = np.flatnonzero(frame[label].isna().to_numpy())[:5].tolist()
        raise DatasetError(f"dataset {kind!r} ({path}): rows {rows} (0-based) have no label in {label!r}")
    names, labels = _classes(frame[label])
    features = frame.drop(columns=[c for c in (label, split) if c is not None])
    if features.shape[1] == 0:
        raise DatasetError(f"dataset {kind!r} ({path}): no feature columns beside the label")
    if split is None:
        train, test, renumbered, classes = split_rows(labels, TEST_FRACTION)
        is_train = np.zeros(len(frame), dtype=bool)
        is_train[train] = True
        x, _ = _features(features, is_train)
        splits = tabular_splits(x[train], renumbered[train], x[test], renumbered[test], classes)
        splits.label_names = tuple(names[c] for c in np.unique(labels))  # the classes present, renumbered
        return splits
    return _given_split(frame[split], features, labels, names, kind, path)


def _given_split(
    column: Any, features: Any, labels: np.ndarray, names: list[str], kind: str, path: Path
) -> Splits:
    roles = column.astype(str).str.strip().str.lower().to_numpy()
    unknown = sorted(set(roles) - set(SPLITS))
    if unknown:
        raise DatasetError(
            f"dataset {kind!r} ({path}): the split column holds {unknown[:5]}; expected train, test or val"
        )
    rows = {role: np.flatnonzero(roles == role) for role in SPLITS}
    for role in ("train", "test"):
        if not len(rows[role]):
            raise DatasetError(f"dataset {kind!r} ({path}): the split column names no {role} row")
    x, _ = _features(features, roles == "train")
    splits = tabular_splits(
        x[rows["train"]], labels[rows["train"]], x[rows["test"]], labels[rows["test"]], len(names)
    )
    if len(rows["val"]):
        val = tabular_splits(
            x[rows["val"]], labels[rows["val"]], x[rows["val"]], labels[rows["val"]], len(names)
        )
        splits.x_val, splits.y_val = val.x_train, val.y_train
    splits.label_names = tuple(names)
    return splits


def _classes(column: Any) -> tuple[list[str], np.ndarray]:
    """The distinct labels in sorted order (as text, for the record), and each row's index among them."""
    values = column.to_numpy()
    try:
        classes, labels = np.unique(values, return_inverse=True)
    except TypeError:  # mixed types: compared as text
        classes, labels = np.unique(values.astype(str), return_inverse=True)
    names = [str(c.item() if hasattr(c, "item") else c) for c in classes]
    return names, labels.astype(np.int64)


def _features(frame: Any, train: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Every column as float32 features: numeric ones as they are (NaN where missing, for the median), the
    others one-hot over the categories of the training rows; with the features' names."""
    import pandas as pd

    columns, names = [], []
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            columns.append(column.to_numpy(dtype=np.float64, na_value=np.nan)[:, None])
            names.append(str(name))
            continue
        text = column.astype(object).where(column.notna(), MISSING).astype(str).to_numpy()
        categories = sorted(set(text[train]))
        columns.append((text[:, None] == np.array(categories)[None, :]).astype(np.float64))
        names += [f"{name}={category}" for category in categories]
    return np.concatenate(columns, axis=1), names
