"""Section 5's view of alpha: as it grows, training error on real data rises and the generalisation gap falls.

For any sweep over alpha: last-epoch test error, training error on the
examples that kept their real labels, and their gap, against alpha, one line
per label-noise rate, with 95% bootstrap intervals of the mean over seeds.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from ..render import (
    StudyOutput,
    interval_errors,
    markdown_table,
    mean_std,
    save_figure,
    save_table,
    seed_caption,
)
from ..runs import finished
from ..stats import seed_stats
from ._registry import StudyContext, register_study

PANELS = (
    ("last_test_error", "test error (%)"),
    ("train_error_real", "training error, real labels (%)"),
    ("generalisation_gap", "test - training error (%)"),
)


def bias_variance_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Seed statistics per (label_noise, alpha) of each panel's metric; diverged and failed trials left
    out."""
    usable = finished(runs).copy()
    usable["generalisation_gap"] = usable["last_test_error"] - usable["train_error_real"]
    metrics = [metric for metric, _ in PANELS] + ["best_test_error"]
    table = seed_stats(usable, ["label_noise", "alpha"], metrics)
    best = table.groupby("label_noise")["last_test_error_mean"].transform("min")
    table["best_alpha"] = table["last_test_error_mean"] == best
    return table.sort_values(["label_noise", "alpha"]).reset_index(drop=True)


def plot_bias_variance(table: pd.DataFrame, title: str, out: Path) -> list[Path]:
    figure, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.6), constrained_layout=True)
    positive = table.loc[table["alpha"] > 0, "alpha"]
    for axis, (metric, label) in zip(axes, PANELS):
        for noise, rows in table.groupby("label_noise"):
            rows = rows.sort_values("alpha")
            line = axis.errorbar(
                rows["alpha"],
                rows[f"{metric}_mean"],
                yerr=interval_errors(rows, metric),
                marker="o",
                capsize=3,
                label=f"noise {noise:.0%}",
            )
            if metric == "last_test_error":
                best = rows[rows["best_alpha"]]
                axis.scatter(
                    best["alpha"],
                    best[f"{metric}_mean"],
                    marker="*",
                    s=220,
                    color=line[0].get_color(),
                    zorder=5,
                    edgecolor="black",
                )
        if len(positive):
            axis.set_xscale("symlog", linthresh=float(positive.min()))  # alpha = 0 (ERM) stays on the axis
        alphas = sorted(table["alpha"].unique())
        axis.set_xticks(alphas, [f"{a:g}" for a in alphas], rotation=90 if len(alphas) > 6 else 0, fontsize=8)
        axis.minorticks_off()
        axis.set_xlabel("mixup alpha (0 = ERM)")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    axes[0].legend(title="star: best alpha", fontsize=8)
    figure.suptitle(f"{title}: {seed_caption(table, 'last_test_error')}")
    return save_figure(figure, out, "bias_variance")


@register_study("bias_variance")
def render(context: StudyContext) -> StudyOutput:
    runs, out = context.runs, context.out
    table = bias_variance_table(runs)
    csv = save_table(table, out, "bias_variance")
    shown = pd.DataFrame(
        {
            "noise": (table["label_noise"] * 100).map("{:.0f}%".format),
            "alpha": table["alpha"].map("{:g}".format),
        }
    )
    for metric, label in PANELS:
        shown[label] = mean_std(table, metric)
    shown["best alpha"] = table["best_alpha"].map({True: "★", False: ""})
    markdown = "\n\n".join(
        [
            "## alpha: bias against variance (Section 5)",
            "As alpha grows, the paper expects training error on real labels to rise and the generalisation "
            "gap to fall. "
            "Mean ± std over seeds, last epoch, errors in %; ★ marks the alpha with the lowest test error "
            "per noise rate.",
            markdown_table(shown),
            "![bias-variance](bias_variance.png)",
        ]
    )
    return StudyOutput([csv, *plot_bias_variance(table, context.sweep, out)], markdown)
