"""Figure 2: miss rate and input-gradient norm between training examples, ERM against mixup.

Each trial's logged model (``model/model.pt``) is reloaded and measured on the
same 1,000 random pairs of training examples, at lambda in {0, 0.1, ..., 1};
the curves are averaged over seeds per alpha.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from mixup_tune.records import load_trained

from ..render import (
    StudyOutput,
    interval_errors,
    markdown_table,
    mean_std,
    method_labels,
    save_figure,
    save_table,
)
from ..runs import finished
from ..stats import seed_stats
from ._registry import StudyContext, register_study

LAMBDAS = np.round(np.linspace(0, 1, 11), 2)
PAIRS = 1000


def measure(runs: pd.DataFrame, tracking_uri: str) -> pd.DataFrame:
    """One row per trial and lambda, for finished trials with a logged model."""
    # Here, not at the top: it imports torch, which no other study (and no reading of runs) needs.
    from trainables.in_between import in_between

    client = MlflowClient(tracking_uri)
    usable = finished(runs)
    rows = []
    for run in usable.itertuples():
        trial = load_trained(client, run.run_id)
        # an array of floats, read as a sequence
        for row in in_between(trial, cast(Sequence[float], LAMBDAS), PAIRS):
            rows.append({"alpha": run.alpha, "seed": run.seed, **row})
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame, out: Path) -> list[Path]:
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.6), constrained_layout=True)
    for alpha, rows in table.groupby("alpha"):
        label = "ERM" if alpha == 0 else f"mixup alpha={alpha:g}"
        for axis, metric in zip(axes, ("miss_rate", "gradient_norm")):
            axis.errorbar(
                rows["lambda"],
                rows[f"{metric}_mean"],
                yerr=interval_errors(rows, metric),
                marker="o",
                capsize=3,
                label=label,
            )
    axes[0].set_ylabel("prediction not in {y_i, y_j} (%)")
    axes[1].set_ylabel("|| d loss / d x ||")
    for axis in axes:
        axis.set_xlabel("lambda (x = lambda x_i + (1 - lambda) x_j)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle(
        f"In-between training examples ({PAIRS} random pairs): mean over seeds, "
        "bars: 95% bootstrap interval of the mean"
    )
    return save_figure(figure, out, "in_between")


@register_study("in_between")
def render(context: StudyContext) -> StudyOutput:
    runs, out = context.runs, context.out
    measured = measure(runs, context.tracking_uri)
    table = seed_stats(measured, ["alpha", "lambda"], ["miss_rate", "gradient_norm"]).sort_values(
        ["alpha", "lambda"]
    )
    csv = save_table(table, out, "in_between")
    middle = table[table["lambda"] == 0.5]
    shown = pd.DataFrame({"model": method_labels(middle["alpha"])})
    shown["miss rate at lambda = 0.5 (%)"] = mean_std(middle, "miss_rate").values
    shown["gradient norm at lambda = 0.5"] = mean_std(middle, "gradient_norm", digits=2).values
    shown["mean miss rate over lambda (%)"] = (
        table.groupby("alpha")["miss_rate_mean"].mean().map("{:.1f}".format).values
    )
    shown["mean gradient norm over lambda"] = (
        table.groupby("alpha")["gradient_norm_mean"].mean().map("{:.2f}".format).values
    )
    markdown = "\n\n".join(
        [
            "## In-between behaviour (Figure 2)",
            f"At x = lambda x_i + (1 - lambda) x_j for {PAIRS} fixed random pairs of training examples (true "
            "labels): "
            "the share of predictions that are neither y_i nor y_j, and the norm of the gradient of the "
            "mixed loss "
            "with respect to the input. The paper finds mixup lower on both.",
            markdown_table(shown),
            "![in-between](in_between.png)",
        ]
    )
    return StudyOutput([csv, *plot(table, out)], markdown)
