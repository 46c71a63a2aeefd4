"""The critical-difference diagram of Demšar (2006, Fig. 1): methods placed at their average ranks across
datasets, thick bars joining the groups that the Nemenyi test cannot tell apart, the critical difference as
a bracket above the axis and Friedman's p beneath.

``scores`` is ``analysis.ranks``' table: one row per dataset (or setting), one column per method. Two methods
differ significantly when their average ranks differ by at least the critical difference (CD); a group is a
maximal set of methods whose average ranks all lie within less than CD of each other, Demšar's and
autorank's bars. On the line of average ranks those are the maximal runs of neighbours spanning less than
CD (the maximal cliques of an interval graph), found in one pass (``nemenyi_groups``).

The figure is laid out in inches: the labels' widths are measured first and set the margins, each label has
a row of its own (the best half on the left, the rest on the right, their leader lines never crossing), and
the height follows from the rows, so a 3.5 in column or a 7 in page holds 16 methods without overlap. Write
it with ``analysis.render.save_figure`` (PNG and PDF, the same bytes for the same scores).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

from analysis.ranks import average_ranks, friedman, nemenyi_critical_difference

COLUMN, PAGE = 3.5, 7.0  # figure widths in inches: a paper's column and its page
_MIN_AXIS = 0.35  # the rank axis's least share of the width, before the labels' font is shrunk
_SMALLEST_FONT = 5.0
_POINT = 1 / 72  # inches


def nemenyi_groups(ranks: pd.Series, cd: float) -> list[tuple[str, ...]]:
    """The maximal groups of two or more methods whose average ranks differ pairwise by less than ``cd``,
    each in rank order, the groups ordered by their best rank."""
    ordered = ranks.sort_values(kind="stable")
    values, names = ordered.to_numpy(float), [str(name) for name in ordered.index]
    groups, reach = [], 0
    for start in range(len(values)):
        end = start
        while end + 1 < len(values) and values[end + 1] - values[start] < cd:
            end += 1
        if end > start and end > reach:  # not inside the group before it
            groups.append(tuple(names[start : end + 1]))
        reach = max(reach, end)
    return groups


def critical_difference_figure(
    scores: pd.DataFrame,
    *,
    lower_is_better: bool = True,
    alpha: float = 0.05,
    title: str | None = None,
    width: float = COLUMN,
) -> Figure:
    """Demšar's diagram of ``scores`` (rows: datasets, columns: methods), ``width`` inches wide."""
    _check(scores, width)
    ranks = average_ranks(scores, lower_is_better)
    _, p = friedman(scores)
    cd = nemenyi_critical_difference(scores.shape[1], len(scores), alpha)
    return _draw(ranks, cd, p, len(scores), alpha, title, width)


def _check(scores: pd.DataFrame, width: float) -> None:
    rows, methods = scores.shape
    if rows < 2 or methods < 2:
        raise ValueError(
            f"a critical-difference diagram needs at least 2 datasets (rows) and 2 methods (columns), "
            f"not {rows} x {methods}"
        )
    if scores.columns.duplicated().any():
        raise ValueError(f"method names repeat: {sorted(set(scores.columns[scores.columns.duplicated()]))}")
    if scores.isna().to_numpy().any():
        missing = int(scores.isna().any(axis=1).sum())
        raise ValueError(
            f"{missing} dataset(s) lack a score for some method: ranks need every method on each"
        )
    if not width > 0:
        raise ValueError(f"width must be positive inches, not {width}")


def _draw(
    ranks: pd.Series, cd: float, p: float, rows: int, alpha: float, title: str | None, width: float
) -> Figure:
    k = len(ranks)
    names = [str(name) for name in ranks.index]
    half = math.ceil(k / 2)
    left = [f"{name} ({rank:.2f})" for name, rank in zip(names[:half], ranks.iloc[:half])]
    right = [f"({rank:.2f}) {name}" for name, rank in zip(names[half:], ranks.iloc[half:])]

    # Margins from the labels' widths: shrink the font until the axis keeps its share of the width.
    font = 7.0 if width < PAGE else 8.0
    outer, gap, hook = 0.04, 0.04, 0.12  # inches: figure edge, label to its line, the line's least run
    while True:
        left_width = max(_text_width(label, font) for label in left)
        right_width = max((_text_width(label, font) for label in right), default=0.0)
        x0 = outer + left_width + gap + hook
        x1 = width - (outer + right_width + gap + hook)
        if x1 - x0 >= _MIN_AXIS * width or font <= _SMALLEST_FONT:
            break
        font -= 0.5
    if x1 <= x0:
        raise ValueError(f"the method names are too long for a {width} in wide figure")

    def x(rank: float) -> float:
        return x0 + (rank - 1) / (k - 1) * (x1 - x0)

    line = font * _POINT  # one line of text, in inches
    tick = 0.05
    y = outer + (1.8 * line if title else 0.0)
    cd_line = y + 1.3 * line + 0.02  # the bracket, its label above it
    axis = cd_line + 0.06 + 1.2 * line + tick  # the tick labels sit between the bracket and the ticks
    groups = nemenyi_groups(ranks, cd)
    levels = _levels([(x(float(ranks[g[0]])), x(float(ranks[g[-1]]))) for g in groups], gap=0.12)
    bar_step = 0.07
    first_row = axis + 0.09 + bar_step * (max(levels, default=-1) + 1) + 0.05
    row_step = max(1.4 * line, 0.12)
    last_row = first_row + row_step * (max(len(left), len(right)) - 1)
    caption = last_row + 0.5 * row_step + 1.2 * line
    height = caption + outer

    figure = Figure(figsize=(width, height))
    ax = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)  # inches from the top
    ax.set_axis_off()

    # The rank axis: 1 (best) at the left, ticks up at whole and half ranks, labels thinned if crowded.
    ax.plot([x(1), x(k)], [axis, axis], color="black", lw=0.8, solid_capstyle="butt")
    spacing = (x1 - x0) / (k - 1)
    widest = _text_width(str(k), font - 1)
    step = next((s for s in (1, 2, 5, 10) if s * spacing >= 1.8 * widest), k - 1)
    for whole in range(1, k + 1):
        ax.plot([x(whole), x(whole)], [axis, axis - tick], color="black", lw=0.8)
        if (whole - 1) % step == 0:
            ax.text(x(whole), axis - tick - 0.02, str(whole), ha="center", va="bottom", fontsize=font - 1)
        if whole < k:
            ax.plot([x(whole + 0.5)] * 2, [axis, axis - tick / 2], color="black", lw=0.6)

    # The critical difference: a bracket from rank 1, cut at the axis's end when it is longer.
    reach = min(1 + cd, k)
    ax.plot([x(1), x(reach)], [cd_line, cd_line], color="black", lw=1.0)
    for end in (1.0, reach):
        ax.plot([x(end)] * 2, [cd_line - 0.025, cd_line + 0.025], color="black", lw=1.0)
    wider = " (> the axis)" if 1 + cd > k else ""
    ax.text(
        (x(1) + x(reach)) / 2,
        cd_line - 0.04,
        f"CD = {cd:.2f}{wider}",
        ha="center",
        va="bottom",
        fontsize=font,
    )

    # Groups the test cannot tell apart: thick bars under the axis, stacked where they would touch.
    for members, level in zip(groups, levels):
        bar_y = axis + 0.09 + bar_step * level
        low, high = x(float(ranks[members[0]])), x(float(ranks[members[-1]]))
        ax.plot([low - 0.03, high + 0.03], [bar_y, bar_y], color="black", lw=2.4, solid_capstyle="butt")

    # Leader lines: the left half's best on the top row, the right half's worst on the top row.
    left_end, right_end = outer + left_width + gap, width - outer - right_width - gap
    for row, (rank, label) in enumerate(zip(ranks.iloc[:half], left)):
        row_y = first_row + row * row_step
        ax.plot([x(rank), x(rank), left_end], [axis, row_y, row_y], color="black", lw=0.7)
        ax.text(left_end - gap / 2, row_y, label, ha="right", va="center", fontsize=font, parse_math=False)
    right_ranks = list(ranks.iloc[half:])
    for row, (rank, label) in enumerate(zip(reversed(right_ranks), reversed(right))):
        row_y = first_row + row * row_step
        ax.plot([x(rank), x(rank), right_end], [axis, row_y, row_y], color="black", lw=0.7)
        ax.text(right_end + gap / 2, row_y, label, ha="left", va="center", fontsize=font, parse_math=False)

    ax.text(width / 2, caption, _caption(p, rows, alpha), ha="center", va="bottom", fontsize=font - 0.5)
    if title:
        ax.text(width / 2, outer, title, ha="center", va="top", fontsize=font + 1, parse_math=False)
    return figure


def _caption(p: float, rows: int, alpha: float) -> str:
    friedman_p = "undefined (needs 3 methods)" if np.isnan(p) else f"{p:.2g}"
    return f"Friedman p = {friedman_p} · N = {rows} · Nemenyi α = {alpha:g}"


def _levels(spans: list[tuple[float, float]], gap: float) -> list[int]:
    """Each span's level (inches along the axis): the first on which it stays ``gap`` clear of the spans
    already there."""
    placed: list[list[tuple[float, float]]] = []
    levels = []
    for low, high in spans:
        for level, taken in enumerate(placed):
            if all(high + gap < other_low or other_high + gap < low for other_low, other_high in taken):
                taken.append((low, high))
                levels.append(level)
                break
        else:
            placed.append([(low, high)])
            levels.append(len(placed) - 1)
    return levels


def _text_width(text: str, size: float) -> float:
    """The width of ``text`` in inches at ``size`` points, in matplotlib's default font."""
    width, _, _ = TextToPath().get_text_width_height_descent(text, FontProperties(size=size), ismath=False)
    return float(width) * _POINT


__all__ = ["COLUMN", "PAGE", "critical_difference_figure", "nemenyi_groups"]
