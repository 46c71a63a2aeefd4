"""Section 3.2 and Figure 3: ERM against mixup per CIFAR dataset and network, and the test error over epochs.

Figure 3a as a table: best and last-epoch test error per (dataset, model,
alpha), mean ± std over seeds, and mixup minus ERM paired by seed. Figure 3b:
the test error of each setting over the epochs, mean over seeds, one panel per
dataset and model. (The paper's Figure 3 gives its numbers as a plot only, so
there are none to print beside ours.)
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from ..bootstrap import Interval
from ..render import (
    StudyOutput,
    markdown_table,
    mean_std,
    method_labels,
    save_figure,
    save_table,
    signed_interval,
)
from ..runs import finished
from ..stats import paired_by_seed, seed_stats
from ._registry import HistoryLoader, StudyContext, register_study

KEYS = ["dataset", "model", "alpha"]


def cifar_table(runs: pd.DataFrame) -> pd.DataFrame:
    usable = finished(runs)
    table = (
        seed_stats(usable, KEYS, ["best_test_error", "last_test_error"])
        .sort_values(KEYS)
        .reset_index(drop=True)
    )
    differences = []
    for row in table.itertuples():
        same = usable[(usable["dataset"] == row.dataset) & (usable["model"] == row.model)]
        paired = (
            paired_by_seed(same, "alpha", row.alpha, 0.0, "last_test_error")
            if row.alpha > 0
            else Interval(float("nan"), float("nan"), float("nan"), 0)
        )
        differences.append((paired.estimate, paired.low, paired.high))
    table["minus_erm_mean"], table["minus_erm_low"], table["minus_erm_high"] = (
        zip(*differences) if differences else ((), (), ())
    )
    return table


def plot_curves(load_history: HistoryLoader, runs: pd.DataFrame, out: Path) -> list[Path]:
    usable = finished(runs)
    history = load_history(list(usable["run_id"]), ("test_error",)).merge(
        usable[["run_id", *KEYS]], on="run_id"
    )
    panels = sorted(usable[["dataset", "model"]].drop_duplicates().itertuples(index=False))
    figure, axes = plt.subplots(
        1, len(panels), figsize=(4.5 * len(panels), 3.6), constrained_layout=True, squeeze=False
    )
    for axis, (dataset, model) in zip(axes[0], panels):
        for alpha, rows in history[(history["dataset"] == dataset) & (history["model"] == model)].groupby(
            "alpha"
        ):
            curve = rows.groupby("epoch")["test_error"].mean()
            axis.plot(curve.index, curve.values, label="ERM" if alpha == 0 else f"mixup alpha={alpha:g}")
        axis.set_title(f"{dataset}, {model}", fontsize=10)
        axis.set_xlabel("epoch")
        axis.set_ylabel("test error (%)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle("Test error over training (Figure 3b): mean over seeds")
    return save_figure(figure, out, "cifar_curves")


@register_study("cifar")
def render(context: StudyContext) -> StudyOutput:
    runs, out = context.runs, context.out
    table = cifar_table(runs)
    csv = save_table(table, out, "cifar")
    shown = table[["dataset", "model"]].copy()
    shown["method"] = method_labels(table["alpha"])
    shown["last test error"] = mean_std(table, "last_test_error")
    shown["last - ERM (paired, 95% interval)"] = signed_interval(
        table["minus_erm_mean"], table["minus_erm_low"], table["minus_erm_high"], digits=2
    )
    shown["best test error (minimum over epochs on the test set)"] = mean_std(table, "best_test_error")
    markdown = "\n\n".join(
        [
            "## CIFAR: ERM against mixup per network (Section 3.2, Figure 3)",
            "Errors in %, mean ± std over seeds; differences with their 95% bootstrap interval over "
            "seeds. The last column chooses the epoch on the test set: an optimistic number, shown for "
            "comparison only. The paper (alpha = 1, 200 epochs, no dropout) finds mixup "
            "better for every "
            "network on CIFAR-10 and CIFAR-100; its Figure 3 gives the numbers as a plot only.",
            markdown_table(shown),
            "![test error over epochs](cifar_curves.png)",
        ]
    )
    return StudyOutput([csv, *plot_curves(context.history, runs, out)], markdown)
