"""The ``mixup-tune runs`` table, fitted to the terminal's width (80 columns when piped).

Rich squeezes a table wider than the terminal by cutting every cell to "…", so that a sweep of a few
options and metrics at 80 columns showed nothing readable. Here columns are dropped whole instead, least
useful first, and the caption names what was dropped; ``--csv`` writes them all.
"""

from __future__ import annotations

import pandas as pd
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

# the metrics shown, in the order they are given up when the table is too wide (the last one first)
METRIC_HEADERS = {
    "best_test_error": "best test",
    "last_test_error": "last test",
    "train_error_corrupted": "train corrupt",
    "train_error_real": "train real",
    "modes_covered": "modes",
    "high_quality": "high quality",
    "sample_distance": "distance",
}
_KEPT = "best_test_error"  # never dropped: how each trial did (its options say which it is)
_ERROR_WIDTH = 20  # a failed trial's error line wraps within this many characters, at least
_EDGES = 3  # each column's border and its padding of one either side, in characters


def runs_table(runs: pd.DataFrame, name: str, swept: list[str], width: int) -> RenderableType:
    """One row per trial: its id, status, the options ``swept`` and its metrics, within ``width``; failed
    trials' errors in a last column, or under the table where that column would be too narrow."""
    cells = {column: _cells(runs, column) for column in _columns(runs, swept)}
    headers = {c: METRIC_HEADERS.get(c, "trial" if c == "trial_id" else c) for c in cells}
    dropped: list[str] = []
    # a status every trial shares says nothing per row: it goes first, into the caption
    if "status" in cells and runs["status"].nunique() == 1 and _too_wide(cells, headers, width):
        dropped.append(f"status (all {runs['status'].iloc[0]})")
        del cells["status"]
    if _too_wide(cells, headers, width):  # a long option name takes two lines of header, not its cells' width
        headers = {c: _split_header(h) if c in swept else h for c, h in headers.items()}
    errors_below = "error" in cells and _too_wide(cells, headers, width)
    if errors_below:
        del cells["error"]
    # the metrics, the last first, then the trial's id, which the options swept stand in for
    droppable = [c for c in reversed(list(cells)) if c in METRIC_HEADERS and c != _KEPT] + ["trial_id"]
    while _too_wide(cells, headers, width) and droppable:
        column = droppable.pop(0)
        dropped.append(headers[column])
        del cells[column]
    table = Table(
        title=f"sweep {name}: {len(runs)} trials (errors in %)",
        caption=f"not shown at {width} columns: {', '.join(dropped)} (--csv FILE has every column)"
        if dropped
        else None,
    )
    for column in cells:
        table.add_column(
            Text(headers[column]),
            justify="right" if pd.api.types.is_numeric_dtype(runs[column]) else "left",
            no_wrap=column != "error",
            min_width=_error_width(cells["error"]) if column == "error" else None,
        )
    for row in zip(*cells.values()):
        table.add_row(*row)
    if not errors_below:
        return table
    failed = runs[runs["status"] == "FAILED"]
    labels = [
        " ".join(f"{key}={cell(row[key])}" for key in swept) or str(row["trial_id"])
        for _, row in failed.iterrows()
    ]
    return Group(
        table, *(Text(f"failed, {label}: {error}") for label, error in zip(labels, _cells(failed, "error")))
    )


def _columns(runs: pd.DataFrame, swept: list[str]) -> list[str]:
    shown = ["trial_id", "status", *swept, *(m for m in METRIC_HEADERS if m in runs.columns)]
    if (runs["status"] == "FAILED").any():  # what each failed trial failed of, in one line
        shown.append("error")
    return shown


def _cells(runs: pd.DataFrame, column: str) -> list[str]:
    if column == "trial_id":  # a hash of the trial's config: its first 8 hex digits, as git's short ids
        return [str(value)[:8] for value in runs[column]]
    if column == "error":
        return ["" if value is None or value != value else str(value) for value in runs[column]]
    return [cell(value) for value in runs[column]]


def cell(value: object) -> str:
    """Two decimals (errors in %), but a small value such as a learning rate of 1e-3 as it is, not as 0.00."""
    if isinstance(value, float):
        return "" if value != value else f"{value:.2f}" if value == 0 or abs(value) >= 0.1 else f"{value:g}"
    return str(value)


def _natural(cells: list[str], header: str) -> int:
    """A column's width without wrapping: its widest cell or header line."""
    return max([len(line) for line in header.splitlines()] + [len(c) for c in cells])


def _too_wide(cells: dict[str, list[str]], headers: dict[str, str], width: int) -> bool:
    widths = [
        _error_width(column_cells) if column == "error" else _natural(column_cells, headers[column])
        for column, column_cells in cells.items()
    ]
    return sum(widths) + _EDGES * len(widths) + 1 > width


def _error_width(cells: list[str]) -> int:
    """The error column's width: it wraps its lines within ``_ERROR_WIDTH`` characters."""
    return min(_ERROR_WIDTH, _natural(cells, "error"))


def _split_header(header: str) -> str:
    """``label_noise`` over two lines, ``label_`` and ``noise``: the name still reads as the option typed."""
    head, sep, tail = header.partition("_")
    return f"{head}{sep}\n{tail}" if sep and tail else header
