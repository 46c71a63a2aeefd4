"""Beyond test error (issue 31), for any study whose runs carry a ``setting`` per method: calibration before
and after temperature scaling, the regenerated corrupted test set, out-of-distribution detection, how
temperature scaling moves the ECE ranking, a critical-difference diagram over the evaluation conditions,
and the main-result figure (error, ECE after scaling, corrupted error, each with its seed interval).

Every column is read from what the trials logged (``trainables.tasks._evaluation``); a sweep that did not
ask for one leaves it out of the tables and the figure, and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from ..bootstrap import Interval
from ..cd_diagram import PAGE, critical_difference_figure
from ..render import interval_errors, markdown_table, save_figure
from ..stats import seed_stats

CALIBRATION = (
    ("test_ece", "ECE"),
    ("test_ece_scaled", "ECE, scaled"),
    ("test_adaptive_ece", "adaptive ECE"),
    ("test_adaptive_ece_scaled", "adaptive ECE, scaled"),
    ("test_classwise_ece", "classwise ECE"),
    ("test_brier", "Brier"),
    ("test_nll", "NLL"),
    ("test_nll_scaled", "NLL, scaled"),
    ("log_temperature", "log T"),
)
SHIFT = (
    ("corruption_error", "corrupted error"),
    ("corruption_error_drop", "drop from clean"),
    ("corruption_nll", "corrupted NLL"),
    ("corruption_ece", "corrupted ECE"),
)
OOD_MEASURES = (("msp_auroc", "MSP AUROC"), ("energy_auroc", "energy AUROC"), ("msp_fpr95", "MSP FPR95"))
_DIGITS = {"test_nll": 3, "test_nll_scaled": 3, "test_brier": 3, "log_temperature": 2, "corruption_nll": 3}
# the main figure's panels: a metric, its fallback where the sweep did not measure it, and the axis label
PANELS = (
    ("last_test_error", None, "test error, last epoch (%)"),
    ("test_ece_scaled", "test_ece", "ECE after scaling (%)"),
    ("corruption_error", None, "corrupted error (%)"),
)


def ood_sets(runs: pd.DataFrame) -> list[str]:
    """The out-of-distribution sets the runs were scored on (``ood/<set>/<score>_<measure>``)."""
    return sorted({column.split("/")[1] for column in runs.columns if column.startswith("ood/")})


def measured(runs: pd.DataFrame) -> list[tuple[str, str]]:
    """Every (metric, label) of this module that some run logged."""
    pairs = [*CALIBRATION, *SHIFT]
    pairs += [
        (f"ood/{name}/{key}", f"{name}: {label}") for name in ood_sets(runs) for key, label in OOD_MEASURES
    ]
    return [(metric, label) for metric, label in pairs if metric in runs and runs[metric].notna().any()]


def beyond_error_table(runs: pd.DataFrame, order: Callable[[str], object]) -> pd.DataFrame:
    """Seed statistics of every measured metric per (noise rate, setting), in ``order`` of the settings."""
    metrics = ["last_test_error", *[metric for metric, _ in measured(runs)]]
    table = seed_stats(runs, ["label_noise", "setting"], metrics)
    return (
        table.assign(_order=table["setting"].map(order))
        .sort_values(["label_noise", "_order"])
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def _cells(rows: pd.DataFrame, metric: str) -> list[str]:
    digits = _DIGITS.get(metric, 1)
    return [
        Interval(mean, low, high, 0).text(digits)
        for mean, low, high in zip(rows[f"{metric}_mean"], rows[f"{metric}_low"], rows[f"{metric}_high"])
    ]


def sections(
    runs: pd.DataFrame,
    table: pd.DataFrame,
    out: Path,
    stem: str,
    order: Callable[[str], object] = str,
) -> tuple[list[str], list[Path]]:
    """The markdown sections and the files: calibration and shift tables per noise rate, the ECE ranking
    before and after scaling, each corruption's error, the CD diagram and the main figure."""
    found = dict(measured(runs))
    if not found:
        return [
            "### Calibration after scaling, corruptions, OOD",
            "Not measured by this sweep: set `evaluation:` and a `val_fraction` (docs/studies.md).",
        ], []
    texts: list[str] = [
        "### Calibration, corruptions and out-of-distribution data",
        "Each a mean [95% bootstrap interval over seeds]. Calibration on the unmixed test set, in %, NLL in "
        'nats, Brier as a sum of squares; "scaled": after temperature scaling fit by NLL on the validation '
        "split (log T < 0 sharpens the softmax). Corrupted error: the test images corrupted by the "
        "regenerated CIFAR-10-C corruptions (docs/corruptions.md), the mean over corruptions and "
        "severities; drop: that minus the clean error of the same images. OOD: the test set (in) against "
        "each set named (out), in %; a set `noise` is uniform random pixels (Gaussian noise at the training "
        "mean and spread for feature vectors), a floor. A log T of 3.00 is the search's bound (T = 20): "
        "predictions near uniform.",
    ]
    files: list[Path] = []
    for noise, rows in table.groupby("label_noise"):
        shown = pd.DataFrame({"method": rows["setting"]})
        for metric, label in found.items():
            shown[label] = _cells(rows, metric)
        texts += [f"#### Label noise {noise:.0%}", markdown_table(shown.reset_index(drop=True))]
        texts.append(ranking_change(rows))
    per_corruption = corruption_table(runs, order)
    if not per_corruption.empty:
        texts += [
            "#### Each corruption's error (mean over severities and seeds), lowest noise rate",
            markdown_table(per_corruption),
            "#### Error by severity (mean over corruptions and seeds), lowest noise rate",
            markdown_table(severity_table(runs, order)),
        ]
        figure = critical_difference_figure(per_corruption.set_index("method").T, width=PAGE)
        files += save_figure(figure, out, f"{stem}_cd")
        texts.append(
            f"![critical-difference diagram over the corruptions]({stem}_cd.png)\n\nAverage ranks over the "
            "clean test set and each corruption as blocks (Demšar, 2006): methods joined by a bar are not "
            "told apart by the Nemenyi test at 0.05."
        )
    files += main_figure(runs, table, out, stem)
    texts.append(f"![main result]({stem}_main.png)")
    return texts, files


def ranking_change(rows: pd.DataFrame) -> str:
    """How temperature scaling reorders the settings by ECE: Kendall's tau and the largest moves."""
    if "test_ece_scaled_mean" not in rows or rows["test_ece_scaled_mean"].isna().all():
        return "No ECE after scaling: the trials held out no validation split."
    from scipy.stats import kendalltau  # here: scipy.stats costs 0.4 s of imports

    before = rows.set_index("setting")["test_ece_mean"].rank(method="min")
    after = rows.set_index("setting")["test_ece_scaled_mean"].rank(method="min")
    tau = float(kendalltau(before, after).statistic)
    moves = (before - after).sort_values()
    moved = [
        f"{name} {int(before[name])} -> {int(after[name])}" for name, step in moves.items() if abs(step) >= 3
    ]
    best_before = ", ".join(before.sort_values().index[:3])
    best_after = ", ".join(after.sort_values().index[:3])
    return (
        f"Ranked by ECE, temperature scaling keeps the order with Kendall's tau {tau:+.2f}; lowest ECE "
        f"before: {best_before}; after: {best_after}. "
        + (
            f"Moved by 3 places or more: {'; '.join(moved)}."
            if moved
            else "No method moved by 3 places or more."
        )
    )


def corruption_table(runs: pd.DataFrame, order: Callable[[str], object] = str) -> pd.DataFrame:
    """Per setting at the lowest noise rate, in ``order``: the clean error of the corrupted images and each
    corruption's error, means over severities and seeds."""
    columns = sorted(
        c for c in runs.columns if c.startswith("corruption/") and c.count("/") == 1 and c.endswith("_error")
    )
    if not columns or "corruption_clean_error" not in runs:
        return pd.DataFrame()
    lowest = _lowest_noise(runs)
    frame = pd.DataFrame({"setting": lowest["setting"], "clean": lowest["corruption_clean_error"]})
    for column in columns:
        frame[column.removeprefix("corruption/").removesuffix("_error")] = lowest[column]
    return _means_by_setting(frame, order)


def severity_table(runs: pd.DataFrame, order: Callable[[str], object] = str) -> pd.DataFrame:
    """Per setting at the lowest noise rate, in ``order``: the clean error of the corrupted images, then at
    each severity the error averaged over the corruptions, means over seeds."""
    columns = [
        c for c in runs.columns if c.startswith("corruption/") and c.count("/") == 2 and c.endswith("_error")
    ]
    severities = sorted({int(c.split("/")[2].removesuffix("_error")) for c in columns})
    lowest = _lowest_noise(runs)
    frame = pd.DataFrame({"setting": lowest["setting"], "clean": lowest["corruption_clean_error"]})
    for severity in severities:
        frame[f"severity {severity}"] = lowest[[c for c in columns if c.endswith(f"/{severity}_error")]].mean(
            1
        )
    return _means_by_setting(frame, order)


def _lowest_noise(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["label_noise"] == runs["label_noise"].min()]


def _means_by_setting(frame: pd.DataFrame, order: Callable[[str], object]) -> pd.DataFrame:
    """One row per setting of ``frame`` (its runs' mean), settings in ``order``, as the report shows them."""
    means = frame.groupby("setting").mean()
    means = means.loc[sorted(means.index, key=order)]  # type: ignore[arg-type]
    return means.round(2).reset_index().rename(columns={"setting": "method"})


def main_figure(runs: pd.DataFrame, table: pd.DataFrame, out: Path, stem: str) -> list[Path]:
    """Each method's error, ECE after scaling and corrupted error with their 95% intervals over seeds, one
    colour per noise rate, methods in order of clean error; a page wide, as PDF and PNG."""
    panels = []
    for metric, fallback, label in PANELS:
        if f"{metric}_mean" in table and table[f"{metric}_mean"].notna().any():
            panels.append((metric, label))
        elif fallback and f"{fallback}_mean" in table and table[f"{fallback}_mean"].notna().any():
            panels.append((fallback, label.replace("after scaling", "unscaled")))
    lowest = _lowest_noise(table)
    order = list(lowest.sort_values("last_test_error_mean")["setting"])
    order += [s for s in table["setting"].unique() if s not in order]
    height = 0.9 + 0.19 * len(order)
    figure, axes = plt.subplots(
        1, len(panels), figsize=(PAGE, height), sharey=True, constrained_layout=True, squeeze=False
    )
    noises = sorted(table["label_noise"].unique())
    positions = {setting: i for i, setting in enumerate(order)}
    for axis, (metric, label) in zip(axes[0], panels):
        for k, (noise, rows) in enumerate(table.groupby("label_noise")):
            offset = (k - (len(noises) - 1) / 2) * 0.25
            y = rows["setting"].map(positions).to_numpy(float) + offset
            axis.errorbar(
                rows[f"{metric}_mean"],
                y,
                xerr=interval_errors(rows, metric),
                fmt="o",
                markersize=3,
                capsize=2,
                linewidth=1,
                color=f"C{k}",
                label=f"label noise {noise:.0%}",
            )
        axis.set_xlabel(label, fontsize=8)
        axis.tick_params(labelsize=7)
        axis.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(range(len(order)), order)
    axes[0][0].invert_yaxis()
    if len(noises) > 1:  # below the panels, where it hides no point
        handles, labels = axes[0][0].get_legend_handles_labels()
        figure.legend(
            handles, labels, loc="outside lower center", ncols=len(noises), fontsize=7, frameon=False
        )
    seeds = int(table["last_test_error_n"].max())
    corrupted = (
        "; corrupted: the regenerated CIFAR-10-C set"
        if any(m == "corruption_error" for m, _ in panels)
        else ""
    )
    figure.suptitle(
        f"Means over {seeds} seeds, bars: 95% bootstrap intervals\nECE scaled by a temperature fit on the "
        f"validation split{corrupted}",
        fontsize=8,
    )
    return save_figure(figure, out, f"{stem}_main")


__all__ = ["beyond_error_table", "main_figure", "measured", "sections"]
