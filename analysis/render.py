"""Writing figures and tables so that the same runs always give the same bytes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on clusters and CI
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


@dataclass
class StudyOutput:
    """What a study's analysis wrote, and its section of report.md."""

    files: list[Path]
    markdown: str


# No creation date in PDFs (and PNGs carry none): re-running `analyze` rewrites identical files.
_PDF_METADATA = {"CreationDate": None, "ModDate": None}


def axes_grid(rows: int, columns: int, figsize: tuple[float, float], sharey: bool = False) -> tuple[Any, Any]:
    """A figure of rows x columns panels sharing their x axis; the axes always a 2-D array."""
    return plt.subplots(
        rows, columns, figsize=figsize, squeeze=False, sharex=True, sharey=sharey, constrained_layout=True
    )


def save_figure(figure: plt.Figure, out: Path, stem: str) -> list[Path]:
    paths = [out / f"{stem}.png", out / f"{stem}.pdf"]
    figure.savefig(paths[0], dpi=130, metadata={"Software": None})
    # The layout (constrained, in figure fractions) was solved for the
    # PNG; solving it again for the PDF cost 0.2 s.
    figure.set_layout_engine("none")
    figure.savefig(paths[1], metadata=_PDF_METADATA)
    plt.close(figure)
    return paths


def seed_caption(table: pd.DataFrame, metric: str) -> str:
    """A figure's caption of what its points and bars are: the most seeds behind a row of ``metric``."""
    return f"mean over {int(table[f'{metric}_n'].max())} seed(s), bars: 95% bootstrap interval of the mean"


def interval_errors(table: pd.DataFrame, metric: str) -> np.ndarray:
    """Matplotlib's ``yerr`` (or ``xerr``) for ``seed_stats``' intervals: the distances below and above
    each mean, shape (2, rows); 0 where a row has no interval (one seed)."""
    mean = table[f"{metric}_mean"].to_numpy(float)
    below = mean - table[f"{metric}_low"].to_numpy(float)
    above = table[f"{metric}_high"].to_numpy(float) - mean
    return np.nan_to_num(np.vstack([below, above]).clip(min=0))


def save_table(frame: pd.DataFrame, out: Path, stem: str) -> Path:
    """``out/<stem>.csv``, numbers to 4 decimals, no index: the study's table as a file."""
    path = out / f"{stem}.csv"
    frame.to_csv(path, index=False, float_format="%.4f")
    return path


def markdown_table(frame: pd.DataFrame, digits: int = 2) -> str:
    """A GitHub-flavoured markdown table; NaN shows as an empty cell."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return "" if math.isnan(value) else f"{value:.{digits}f}"
        return str(value)

    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def mean_std(frame: pd.DataFrame, metric: str, digits: int = 1) -> pd.Series:
    """'mean +- std' (or just the mean for a single seed; empty where the metric was never measured) per
    row."""
    mean, std = frame[f"{metric}_mean"], frame[f"{metric}_std"]
    return pd.Series(
        [
            "" if m != m else f"{m:.{digits}f}" if s != s else f"{m:.{digits}f} ± {s:.{digits}f}"
            for m, s in zip(mean, std)
        ],
        index=frame.index,
    )


def method_labels(alphas: pd.Series) -> list[str]:
    """'ERM' for alpha = 0, else 'mixup alpha=<a>'."""
    return ["ERM" if a == 0 else f"mixup alpha={a:g}" for a in alphas]


def signed_interval(means: Any, lows: Any, highs: Any, digits: int = 1) -> list[str]:
    """'+d [l, h]' per row (just '+d' without an interval, empty without a difference): paired differences
    and their 95% bootstrap intervals in tables."""
    return [
        ""
        if d != d
        else f"{d:+.{digits}f}"
        if low != low
        else f"{d:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"
        for d, low, high in zip(means, lows, highs)
    ]


def excludes_zero(lows: Any, highs: Any) -> np.ndarray:
    """Where a difference's interval lies wholly on one side of 0 (False without an interval)."""
    low, high = np.asarray(lows, float), np.asarray(highs, float)
    return (low > 0) | (high < 0)


TARGET_POINTS = 1000  # blue points drawn per GAN snapshot panel


@cache
def target_points(target: str) -> np.ndarray:
    """A fixed draw of the target (the same in every figure)."""
    import torch

    from trainables.tasks.gan_targets import TARGETS

    return TARGETS[target].sample(TARGET_POINTS, torch.Generator().manual_seed(0)).numpy()


def draw_snapshot(axis: Any, points: np.ndarray, target: str, title: str = "") -> None:
    """One panel: the target (blue) under the generated points (orange), on the target's square."""
    reference = target_points(target)
    axis.scatter(reference[:, 0], reference[:, 1], s=2, c="C0", alpha=0.5, linewidths=0)
    axis.scatter(points[:, 0], points[:, 1], s=2, c="C1", alpha=0.6, linewidths=0)
    limit = float(np.abs(reference).max()) * 1.35
    axis.set_xlim(-limit, limit)
    axis.set_ylim(-limit, limit)
    axis.set_aspect("equal")
    axis.set_xticks([])
    axis.set_yticks([])
    if title:
        axis.set_title(title, fontsize=9)
