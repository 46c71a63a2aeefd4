"""Section 2's alternatives to the paper's mixup, side by side: k-way Dirichlet mixing, two loaders, equal
labels.

The paper's words on each: mixing three or more examples "works similarly
well, but increases the computation cost"; a second data loader "works
equally well"; interpolating only between inputs of equal label "did not lead
to the performance gains of mixup". Each variant is compared with the paper's
mixup at the same alpha and noise rate, paired by seed (same initialisation,
shuffling and corrupted labels), and with ERM. Its cost is the trials' wall
time (MLflow's run start to end).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..render import (
    StudyOutput,
    interval_errors,
    markdown_table,
    mean_std,
    save_figure,
    save_table,
    seed_caption,
    signed_interval,
)
from ..runs import finished
from ..stats import paired_by_seed, seed_stats
from ._registry import StudyContext, register_study

PAPER_SAYS = {
    "ERM": "",
    "mixup": "the paper's method: one loader, the batch mixed with a permutation of itself",
    "k-way": "works similarly well, costs more",
    "two loaders": "works equally well",
    "equal label": "no gain over ERM",
}
METRICS = ("last_test_error", "best_test_error", "train_error_real", "train_error_corrupted", "duration_s")


def method_of(run: pd.Series) -> str:
    if run["alpha"] == 0:
        return "ERM"
    parts = []
    if run.get("mix_k", 2) > 2:
        parts.append(f"{int(run['mix_k'])}-way")
    pairing = run.get("mix_pairing", "shuffle")
    if pairing != "shuffle":
        parts.append(pairing.replace("_", " "))
    return "mixup" + (" " + ", ".join(parts) if parts else "")


def _kind(method: str) -> str:
    """Which of the paper's sentences speaks to this method."""
    if method in ("ERM", "mixup"):
        return method
    return "equal label" if "same label" in method else "two loaders" if "two loaders" in method else "k-way"


def variants_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Seed statistics per (label_noise, alpha, method), with the paired difference to the paper's mixup at
    that alpha."""
    usable = finished(runs).copy()
    if "label_noise" not in usable:
        usable["label_noise"] = 0.0
    usable["method"] = usable.apply(method_of, axis=1)
    metrics = [m for m in METRICS if m in usable.columns]
    table = seed_stats(usable, ["label_noise", "alpha", "method"], metrics)
    differences = [
        _paired_to_mixup(usable, row.label_noise, row.alpha, row.method) for row in table.itertuples()
    ]
    table["minus_mixup_mean"], table["minus_mixup_low"], table["minus_mixup_high"] = (
        zip(*differences) if differences else ((), (), ())
    )
    erm = table[table["method"] == "ERM"].set_index("label_noise")["last_test_error_mean"]
    table["minus_erm_mean"] = table["last_test_error_mean"] - table["label_noise"].map(erm)
    return table.sort_values(
        ["label_noise", "alpha", "method"], key=lambda c: c.map(_order) if c.name == "method" else c
    ).reset_index(drop=True)


def _order(method: str) -> tuple[int, str]:
    return (0 if method == "ERM" else 1 if method == "mixup" else 2, method)


def _paired_to_mixup(
    runs: pd.DataFrame, noise: float, alpha: float, method: str
) -> tuple[float, float, float]:
    """Mean over seeds of (variant - mixup) last test error at the same noise and alpha, and its 95%
    bootstrap interval."""
    if method in ("ERM", "mixup"):
        return float("nan"), float("nan"), float("nan")
    same = runs[(runs["label_noise"] == noise) & (runs["alpha"] == alpha)]
    paired = paired_by_seed(same, "method", method, "mixup", "last_test_error")
    return paired.estimate, paired.low, paired.high


def plot_variants(table: pd.DataFrame, out: Path) -> list[Path]:
    noises = sorted(table["label_noise"].unique())
    figure, axes = plt.subplots(
        1, 2, figsize=(11, 0.45 * len(table) + 1.8), constrained_layout=True, sharey=True
    )
    labels = [
        f"{row.method} (alpha {row.alpha:g}), noise {row.label_noise:.0%}"
        if row.method != "ERM"
        else f"ERM, noise {row.label_noise:.0%}"
        for row in table.itertuples()
    ]
    positions = np.arange(len(table))[::-1]
    colours = {noise: f"C{i}" for i, noise in enumerate(noises)}
    for axis, metric, label in (
        (axes[0], "last_test_error", "last test error (%)"),
        (axes[1], "duration_s", "seconds per trial (wall)"),
    ):
        if f"{metric}_mean" not in table:
            axis.set_visible(False)
            continue
        for noise in noises:
            rows = table["label_noise"] == noise
            axis.errorbar(
                table.loc[rows, f"{metric}_mean"],
                positions[rows.to_numpy()],
                xerr=interval_errors(table.loc[rows], metric),
                fmt="o",
                capsize=3,
                color=colours[noise],
                label=f"noise {noise:.0%}",
            )
        axis.set_xlabel(label)
        axis.grid(alpha=0.3)
    axes[0].set_yticks(positions, labels, fontsize=8)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"Section 2's variants of mixup: {seed_caption(table, 'last_test_error')}")
    return save_figure(figure, out, "variants")


@register_study("variants")
def render(context: StudyContext) -> StudyOutput:
    runs, out = context.runs, context.out
    table = variants_table(runs)
    csv = save_table(table, out, "variants")
    shown = pd.DataFrame(
        {
            "noise": table["label_noise"].map("{:.0%}".format),
            "method": table["method"],
            "alpha": table["alpha"].map("{:g}".format),
        }
    )
    shown["last test error"] = mean_std(table, "last_test_error")
    shown["train error (real labels)"] = mean_std(table, "train_error_real")
    if "train_error_corrupted_mean" in table and table["train_error_corrupted_mean"].notna().any():
        shown["train error (corrupted labels)"] = mean_std(table, "train_error_corrupted")
    shown["- ERM"] = table["minus_erm_mean"].map("{:+.1f}".format)
    shown["- mixup (paired, 95% interval)"] = signed_interval(
        table["minus_mixup_mean"], table["minus_mixup_low"], table["minus_mixup_high"]
    )
    if "duration_s_mean" in table:
        shown["s per trial"] = table["duration_s_mean"].map("{:.1f}".format)
    shown["the paper says"] = table["method"].map(lambda m: PAPER_SAYS[_kind(m)])
    markdown = "\n\n".join(
        [
            "## Section 2's variants of mixup",
            'Errors in %, mean ± std over seeds, last epoch. "- mixup" is the variant minus the paper\'s '
            "mixup at the same alpha "
            'and noise rate, paired by seed, with a 95% interval; "- ERM" is against ERM at that noise rate. '
            "Seconds per trial are wall time, with trials running side by side.",
            markdown_table(shown),
            "![variants](variants.png)",
        ]
    )
    return StudyOutput([csv, *plot_variants(table, out)], markdown)
