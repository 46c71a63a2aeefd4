"""Writing figures and tables so that the same runs always give the same bytes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on clusters and CI
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

@dataclass
class StudyOutput:
    """What a study's analysis wrote, and its section of report.md."""

    files: list[Path]
    markdown: str


# No creation date in PDFs (and PNGs carry none): re-running `analyze` rewrites identical files.
_PDF_METADATA = {"CreationDate": None, "ModDate": None}


def save_figure(figure: plt.Figure, out: Path, stem: str) -> list[Path]:
    paths = [out / f"{stem}.png", out / f"{stem}.pdf"]
    figure.savefig(paths[0], dpi=130, metadata={"Software": None})
    # The layout (constrained, in figure fractions) was solved for the PNG; solving it again for the PDF cost 0.2 s.
    figure.set_layout_engine("none")
    figure.savefig(paths[1], metadata=_PDF_METADATA)
    plt.close(figure)
    return paths


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
    """'mean +- std' (or just the mean for a single seed; empty where the metric was never measured) per row."""
    mean, std = frame[f"{metric}_mean"], frame[f"{metric}_std"]
    return pd.Series(
        ["" if m != m else f"{m:.{digits}f}" if s != s else f"{m:.{digits}f} ± {s:.{digits}f}" for m, s in zip(mean, std)],
        index=frame.index,
    )


def method_labels(alphas: pd.Series) -> list[str]:
    """'ERM' for alpha = 0, else 'mixup alpha=<a>'."""
    return ["ERM" if a == 0 else f"mixup alpha={a:g}" for a in alphas]


def signed_interval(means: pd.Series, half_widths: pd.Series, digits: int = 1) -> list[str]:
    """'+d ± h' per row (just '+d' without an interval, empty without a difference): paired differences in tables."""
    return ["" if d != d else f"{d:+.{digits}f}" if h != h else f"{d:+.{digits}f} ± {h:.{digits}f}" for d, h in zip(means, half_widths)]
