"""Section 3.6 and Table 4: ERM against mixup on six UCI datasets, beside the paper's numbers.

Per dataset and alpha (alpha = 0 is ERM): the last-epoch test error, mean ±
std over seeds. The paper reports one mixup number per dataset without its
alpha, so ours is the alpha with the lowest mean test error, chosen on the
test set as the paper's must have been: an optimistic choice, said so in the
report. Its difference to ERM is paired by seed (same split, same initial
weights), with a 95% bootstrap interval over seeds.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from .. import paper
from ..bootstrap import Interval
from ..render import (
    StudyOutput,
    excludes_zero,
    interval_errors,
    markdown_table,
    mean_std,
    save_figure,
    seed_caption,
    signed_interval,
)
from ..runs import finished
from ..stats import paired_by_seed, seed_stats
from ._registry import StudyContext, register_study

METRIC = "last_test_error"

# The paper's Table 4 as lines on each panel: (column, colour, line style, width, legend label).
PAPER_LINES = (
    ("erm_test_error", "grey", "--", 1, "paper ERM"),
    ("mixup_test_error", "tab:red", ":", 1.2, "paper mixup"),
)


def uci_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Seed statistics of the test error per (dataset, alpha); failed and diverged trials left out."""
    usable = finished(runs)
    return (
        seed_stats(usable, ["dataset", "alpha"], [METRIC])
        .sort_values(["dataset", "alpha"])
        .reset_index(drop=True)
    )


def _paired_difference(runs: pd.DataFrame, dataset: str, alpha: float) -> Interval:
    """Mean over seeds of (mixup - ERM) test error, its 95% bootstrap interval, and the seeds with both."""
    usable = finished(runs)
    usable = usable[usable["dataset"] == dataset]
    return paired_by_seed(usable, "alpha", alpha, 0.0, METRIC)


def table4(runs: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """One row per dataset: our ERM and best mixup, their paired difference, and the paper's two numbers."""
    rows = []
    with_paper = paper.comparable(runs, paper.TABLE4_SETTING)
    for dataset, settings in table.groupby("dataset"):
        erm = settings[settings["alpha"] == 0]
        mixup = settings[settings["alpha"] > 0]
        best = mixup.loc[mixup[f"{METRIC}_mean"].idxmin()] if len(mixup) else None
        difference = (
            _paired_difference(runs, str(dataset), float(best["alpha"]))
            if best is not None
            else Interval(float("nan"), float("nan"), float("nan"), 0)
        )
        reference = paper.TABLE4[paper.TABLE4["dataset"] == dataset] if with_paper else paper.TABLE4.iloc[0:0]
        rows.append(
            {
                "dataset": dataset,
                "erm_mean": float(erm[f"{METRIC}_mean"].iloc[0]) if len(erm) else float("nan"),
                "erm_std": float(erm[f"{METRIC}_std"].iloc[0]) if len(erm) else float("nan"),
                "mixup_alpha": float(best["alpha"]) if best is not None else float("nan"),
                "mixup_mean": float(best[f"{METRIC}_mean"]) if best is not None else float("nan"),
                "mixup_std": float(best[f"{METRIC}_std"]) if best is not None else float("nan"),
                "difference_mean": difference.estimate,
                "difference_low": difference.low,
                "difference_high": difference.high,
                "seeds": difference.n,
                "paper_erm": float(reference["erm_test_error"].iloc[0]) if len(reference) else float("nan"),
                "paper_mixup": float(reference["mixup_test_error"].iloc[0])
                if len(reference)
                else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def finding(replica: pd.DataFrame) -> str:
    """The paper's sentence, "mixup improves the average test error on four out of the six considered
    datasets,
    and never underperforms ERM", checked on our runs: lower, equal to the tables' 0.1 point, higher, and
    which
    differences lie beyond the seeds' 95% interval."""
    compared = replica.dropna(subset=["difference_mean"])
    difference = compared["difference_mean"].round(1)  # as printed: -0.04 and +0.04 are both "0.0"
    lower, higher = int((difference < 0).sum()), int((difference > 0).sum())
    significant = excludes_zero(compared["difference_low"], compared["difference_high"])
    lower_sure = int((significant & (difference < 0)).sum())
    higher_sure = int((significant & (difference > 0)).sum())
    return (
        f"Paper: mixup improves the average test error on 4 of 6 datasets and never underperforms ERM. "
        f"Ours (best alpha per dataset): lower on {lower} of {len(compared)}, equal to 0.1 point on "
        f"{len(compared) - lower - higher}, higher on {higher}; "
        f"beyond the 95% interval of the paired differences, lower on {lower_sure} and higher on "
        f"{higher_sure}."
    )


def plot_uci(table: pd.DataFrame, out: Path, with_paper: bool = True) -> list[Path]:
    datasets = sorted(table["dataset"].unique())
    columns = min(3, len(datasets))
    rows = -(-len(datasets) // columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(3.6 * columns, 3.0 * rows), constrained_layout=True, squeeze=False
    )
    alphas = sorted(table["alpha"].unique())
    positive = [a for a in alphas if a > 0]
    for axis, dataset in zip(axes.flat, datasets):
        settings = table[table["dataset"] == dataset].sort_values("alpha")
        axis.errorbar(
            settings["alpha"],
            settings[f"{METRIC}_mean"],
            yerr=interval_errors(settings, METRIC),
            marker="o",
            capsize=3,
            label="ours",
        )
        reference = paper.TABLE4[paper.TABLE4["dataset"] == dataset]
        if len(reference) and with_paper:
            for column, colour, style, width, label in PAPER_LINES:
                value = float(reference[column].iloc[0])
                axis.axhline(value, color=colour, linestyle=style, linewidth=width, label=label)
        if positive:
            axis.set_xscale("symlog", linthresh=min(positive))  # alpha = 0 (ERM) stays on the axis
        axis.set_xticks(alphas, [f"{a:g}" for a in alphas], fontsize=8)
        axis.minorticks_off()
        axis.set_title(dataset, fontsize=10)
        axis.set_xlabel("mixup alpha (0 = ERM)", fontsize=8)
        axis.set_ylabel("test error (%)", fontsize=8)
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(datasets) :]:
        axis.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    figure.suptitle(f"UCI (Table 4): test error against alpha, {seed_caption(table, METRIC)}")
    return save_figure(figure, out, "uci")


@register_study("uci")
def render(context: StudyContext) -> StudyOutput:
    runs, out = context.runs, context.out
    table = uci_table(runs)
    replica = table4(runs, table)
    files = []
    for name, frame in (("uci", table), ("uci_table4", replica)):
        path = out / f"{name}.csv"
        frame.to_csv(path, index=False, float_format="%.4f")
        files.append(path)
    shown = pd.DataFrame({"dataset": replica["dataset"]})
    shown["ERM"] = mean_std(replica, "erm")
    shown["mixup (best alpha)"] = mean_std(replica, "mixup")
    shown["alpha"] = replica["mixup_alpha"].map("{:g}".format)
    shown["mixup - ERM (paired, 95% interval)"] = signed_interval(
        replica["difference_mean"], replica["difference_low"], replica["difference_high"]
    )
    with_paper = paper.comparable(runs, paper.TABLE4_SETTING)
    if with_paper:
        shown["paper ERM"] = replica["paper_erm"].map("{:g}".format)
        shown["paper mixup"] = replica["paper_mixup"].map("{:g}".format)
    per_alpha = pd.DataFrame(
        {
            "dataset": table["dataset"],
            "alpha": table["alpha"].map("{:g}".format),
            "test error": mean_std(table, METRIC),
        }
    )
    markdown = "\n\n".join(
        [
            "## UCI tabular data (Section 3.6, Table 4)",
            "Last-epoch test error in %, mean ± std over seeds. mixup is shown at the alpha with the lowest "
            "mean test error, "
            "chosen on the test set (the paper gives no alpha and no validation split, so its choice was "
            "likely made the same way). "
            "The difference is paired by seed: same split, same initial weights. "
            + (
                f"Paper: {paper.TABLE4_SOURCE}; its splits and preprocessing are not given, so the levels "
                "differ (ours standardise the features)."
                if with_paper
                else paper.not_comparable(runs, paper.TABLE4_SETTING, "Table 4")
            ),
            markdown_table(shown),
            finding(replica),
            "![uci](uci.png)",
            "### Every alpha",
            markdown_table(per_alpha),
        ]
    )
    return StudyOutput([*files, *plot_uci(table, out, with_paper)], markdown)
