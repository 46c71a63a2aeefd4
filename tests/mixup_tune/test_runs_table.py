"""The ``mixup-tune runs`` table at the widths users meet: 80 columns, or piped (rich's 80), and wider.

Rich squeezes a table wider than the terminal by cutting every cell to "…": once, at 80 columns, no header
or cell of a four-option sweep could be read. Columns are dropped whole instead, and the caption says which.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from mixup_tune.runs_table import METRIC_HEADERS, runs_table

SWEPT = ["alpha", "label_noise", "mix.method", "seed"]
ERROR = "RuntimeError: CUDA out of memory while allocating 20.00 GiB in the forward pass of preact_resnet18"


def _runs(failed: bool = False) -> pd.DataFrame:
    """Eight trials as ``analysis.runs.load_runs`` gives them: Ray's trial id, status, options, metrics."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "run_id": [f"{i:032x}" for i in range(8)],
            "trial_id": [f"{i:x}" * 16 for i in range(8)],  # a hash of the trial's config
            "status": ["FINISHED"] * 8,
            "alpha": [0.0, 1.0] * 4,
            "label_noise": [0.0, 0.0, 0.4, 0.4] * 2,
            "mix.method": ["mixup"] * 4 + ["cutmix"] * 4,
            "seed": [0] * 8,
            "error": [None] * 8,
            **{metric: rng.uniform(0.5, 60, 8) for metric in METRIC_HEADERS if metric != "sample_distance"},
        }
    )
    frame["seed"] = [0, 1] * 4
    if failed:
        frame.loc[5, ["status", "error"]] = ["FAILED", ERROR]
    return frame


def _render(runs: pd.DataFrame, width: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(runs_table(runs, "quickstart", SWEPT, width))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return text.splitlines()


@pytest.mark.parametrize("failed", [False, True])
def test_at_80_columns_whole_columns_are_dropped_and_no_cell_is_cut(failed: bool) -> None:
    runs = _runs(failed)
    lines = _render(runs, 80)
    text = "\n".join(lines)
    assert max(len(line) for line in lines) <= 80, text
    assert "…" not in text, text
    rows = [line for line in lines if line.startswith("│") and ("mixup" in line or "cutmix" in line)]
    assert len(rows) == 8, text
    for row, (_, trial) in zip(rows, runs.iterrows()):  # each option's value whole, and the best test error
        cells = [c.strip() for c in row.strip("│ ").split("│")]
        assert f"{trial['best_test_error']:.2f}" in cells, (cells, text)
        assert {f"{trial['alpha']:.2f}", f"{trial['label_noise']:.2f}", trial["mix.method"]} <= set(cells), (
            text
        )
    assert "best test" in text and "alpha" in text and "seed" in text and "mix.method" in text
    caption = " ".join(text.split("not shown at 80 columns:")[1].split())
    assert "train real" in caption and "--csv FILE has every column" in caption, text
    if failed:  # the error, whole, under the table, with the trial's setting
        assert "FAILED" in text
        joined = " ".join(text.split())
        assert "failed, alpha=1.00 label_noise=0.00 mix.method=cutmix seed=1: " + ERROR in joined, text
    else:  # every trial FINISHED: the status column is the first to go
        assert "status (all FINISHED)" in caption and "FINISHED" not in text.replace("all FINISHED", ""), text


def test_a_wide_terminal_shows_every_column() -> None:
    runs = _runs(failed=True)
    lines = _render(runs, 220)
    text = "\n".join(lines)
    assert "not shown" not in text and "…" not in text, text
    header = " ".join(text.split("━")).replace("┃", " ")
    for name in ["trial", "status", *SWEPT, *(h for m, h in METRIC_HEADERS.items() if m in runs.columns)]:
        assert name in header, (name, text)
    assert ERROR[:20] in text and "55555555 " in text  # the id, cut to 8 hex digits
