"""The critical-difference diagram: its groups against the definition enumerated subset by subset, its text
(every method, the CD, Friedman's p), its labels clear of each other at a column's and a page's width, its
files, and what it refuses."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from analysis.cd_diagram import COLUMN, PAGE, critical_difference_figure, nemenyi_groups
from analysis.ranks import average_ranks, friedman, nemenyi_critical_difference
from analysis.render import save_figure

NAMES = [
    "ERM", "mixup", "CutMix", "manifold_mixup", "FMix", "ResizeMix", "SmoothMix", "RandomMix",
    "RegMixup", "SaliencyMix", "PuzzleMix", "AugMix", "timm_mixup", "label_smoothing", "Cutout",
    "mixup_premixed",
]  # fmt: skip


def _scores(methods: int, rows: int = 14, seed: int = 0, spread: float = 2.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        rng.normal(size=(rows, methods)) + np.linspace(0, spread, methods), columns=NAMES[:methods]
    )


def _brute_force_groups(ranks: pd.Series, cd: float) -> set[frozenset[str]]:
    """Every set of two or more methods whose ranks differ pairwise by less than ``cd`` and that no larger
    such set contains: the definition, subset by subset."""
    names = list(ranks.index)
    close = [
        frozenset(subset)
        for size in range(2, len(names) + 1)
        for subset in itertools.combinations(names, size)
        if all(abs(ranks[a] - ranks[b]) < cd for a, b in itertools.combinations(subset, 2))
    ]
    return {group for group in close if not any(group < other for other in close)}


@pytest.mark.parametrize("seed", range(40))
def test_the_groups_are_the_maximal_sets_within_the_critical_difference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 11))
    # Ranks on a grid of quarters, so that ties and gaps of exactly the CD occur (a gap of CD is significant).
    ranks = pd.Series(rng.integers(4, 4 * k + 1, size=k) / 4, index=NAMES[:k])
    cd = float(rng.choice([0.25, 0.5, 1.0, 1.25, rng.uniform(0.1, k)]))
    groups = nemenyi_groups(ranks, cd)
    assert {frozenset(group) for group in groups} == _brute_force_groups(ranks, cd)
    assert len(groups) == len(set(groups))
    for group in groups:  # each in rank order, and the groups by their best rank
        assert list(ranks[list(group)]) == sorted(ranks[list(group)])
    assert [ranks[group[0]] for group in groups] == sorted(ranks[group[0]] for group in groups)


def test_groups_of_real_scores_match_the_brute_force_and_the_cd() -> None:
    scores = _scores(8, rows=10)
    ranks = average_ranks(scores)
    cd = nemenyi_critical_difference(8, 10)
    assert {frozenset(g) for g in nemenyi_groups(ranks, cd)} == _brute_force_groups(ranks, cd)
    assert nemenyi_groups(ranks, 0.0) == [] and nemenyi_groups(ranks, 100.0) == [tuple(ranks.index)]


def _texts(figure) -> list[str]:  # type: ignore[no-untyped-def]
    return [text.get_text() for text in figure.findobj(lambda artist: hasattr(artist, "get_text"))]


def test_the_figure_names_every_method_the_cd_and_friedmans_p() -> None:
    scores = _scores(6)
    figure = critical_difference_figure(scores, title="test error")
    text = "\n".join(_texts(figure))
    cd = nemenyi_critical_difference(6, len(scores))
    _, p = friedman(scores)
    for name, rank in average_ranks(scores).items():
        assert f"{name} ({rank:.2f})" in text or f"({rank:.2f}) {name}" in text
    assert f"CD = {cd:.2f}" in text and f"Friedman p = {p:.2g}" in text and "test error" in text


def test_higher_is_better_reverses_the_ranks() -> None:
    scores = _scores(4)
    text = "\n".join(_texts(critical_difference_figure(scores, lower_is_better=False)))
    best = average_ranks(scores, lower_is_better=False)
    assert best.index[0] == "manifold_mixup" and f"manifold_mixup ({best.iloc[0]:.2f})" in text


def _overlaps(figure) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    renderer = FigureCanvasAgg(figure).get_renderer()
    texts = [t for t in figure.axes[0].texts if t.get_text()]
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in texts]
    inside = figure.bbox
    outside = [(name, "the figure's edge") for name, box in boxes if not inside.contains(box.x0, box.y0)]
    outside += [(name, "the figure's edge") for name, box in boxes if not inside.contains(box.x1, box.y1)]
    crossing = [
        (a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2) if box_a.overlaps(box_b)
    ]
    return outside + crossing


@pytest.mark.parametrize("methods", [10, 16])
@pytest.mark.parametrize("width", [COLUMN, PAGE])
def test_no_label_overlaps_another_or_leaves_the_figure(methods: int, width: float) -> None:
    figure = critical_difference_figure(_scores(methods), title="a title", width=width)
    assert figure.get_size_inches()[0] == width
    assert _overlaps(figure) == []


def test_tied_methods_and_a_cd_longer_than_the_axis_still_draw_cleanly() -> None:
    scores = pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0], "c": [3.0, 0.0]})  # k = 3, N = 2: CD 2.34 > 2
    figure = critical_difference_figure(scores)
    assert "(> the axis)" in "\n".join(_texts(figure)) and _overlaps(figure) == []
    two = critical_difference_figure(scores[["a", "c"]])
    assert "Friedman p = undefined (needs 3 methods)" in "\n".join(_texts(two))


def test_pdf_and_png_are_written(tmp_path: Path) -> None:
    paths = save_figure(critical_difference_figure(_scores(5)), tmp_path, "cd")
    assert sorted(p.name for p in paths) == ["cd.pdf", "cd.png"]
    assert all(p.stat().st_size > 1000 for p in paths)
    assert (tmp_path / "cd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "cd.pdf").read_bytes()[:5] == b"%PDF-"


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        (_scores(5, rows=1), "at least 2 datasets (rows) and 2 methods (columns), not 1 x 5"),
        (_scores(1, rows=6), "at least 2 datasets (rows) and 2 methods (columns), not 6 x 1"),
        (pd.DataFrame({"a": [1.0, math.nan], "b": [2.0, 1.0]}), "1 dataset(s) lack a score"),
    ],
)
def test_too_little_or_missing_data_is_refused_in_one_line(scores: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=r"^[^\n]+$") as error:
        critical_difference_figure(scores)
    assert message in str(error.value)
