"""Section 3.5 and Table 3: robustness to FGSM and I-FGSM, white box and black box, ERM against mixup.

White box: each model attacks itself (``white_box_*``, measured at the end of
each trial). Black box: examples crafted on the sweep's ERM surrogate, tested
on every other model (``black_box_*``, the evaluation phase after the sweep).
Errors in %, top-1 and, with more than 5 classes, top-5; mean ± std over seeds
per alpha (alpha = 0 is ERM). The surrogate itself is left out of the tables.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from .. import paper
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

ATTACKS = (
    ("white_box_fgsm_error", "white box FGSM"),
    ("white_box_ifgsm_error", "white box I-FGSM"),
    ("black_box_fgsm_error", "black box FGSM"),
    ("black_box_ifgsm_error", "black box I-FGSM"),
)


def adversarial_table(runs: pd.DataFrame) -> pd.DataFrame:
    usable = finished(runs)
    usable = usable[~usable["surrogate"]]  # the ERM model the black-box examples came from
    metrics = ["last_test_error"] + [
        m for name, _ in ATTACKS for m in (name, f"{name}_top5") if m in usable.columns
    ]
    return seed_stats(usable, ["alpha"], metrics).sort_values("alpha").reset_index(drop=True)


def table3(table: pd.DataFrame, with_paper: bool = True) -> pd.DataFrame:
    """Ours per alpha, then (on the paper's setting) the paper's ERM and mixup rows, in Table 3's columns."""
    rows = pd.DataFrame({"model": method_labels(table["alpha"])})
    rows["clean test error"] = mean_std(table, "last_test_error")
    reference = paper.TABLE3.assign(model=lambda f: "paper " + f["method"])
    for metric, label in ATTACKS:
        for suffix, kind in (("", "top-1"), ("_top5", "top-5")):
            column = f"{metric}{suffix}"
            if f"{column}_mean" in table:
                rows[f"{label} {kind}"] = mean_std(table, column)
                reference[f"{label} {kind}"] = reference[column].map("{:g}".format)
    if not with_paper:
        return rows
    reference = reference[[c for c in rows.columns if c in reference.columns or c == "model"]]
    return pd.concat([rows, reference.assign(**{"clean test error": ""})], ignore_index=True)[rows.columns]


def plot_robustness(table: pd.DataFrame, out: Path) -> list[Path]:
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.8), sharey=True, constrained_layout=True)
    alphas = sorted(table["alpha"])
    positive = [a for a in alphas if a > 0]
    for axis, box in zip(axes, ("white_box", "black_box")):
        for metric, label in ATTACKS:
            if metric.startswith(box) and f"{metric}_mean" in table:
                axis.errorbar(
                    table["alpha"],
                    table[f"{metric}_mean"],
                    yerr=interval_errors(table, metric),
                    marker="o",
                    capsize=3,
                    label=label.split(" box ")[1],
                )
        axis.errorbar(
            table["alpha"],
            table["last_test_error_mean"],
            yerr=interval_errors(table, "last_test_error"),
            marker=".",
            linestyle="--",
            color="grey",
            label="clean",
        )
        if positive:
            axis.set_xscale("symlog", linthresh=min(positive))
        axis.set_xticks(alphas, [f"{a:g}" for a in alphas], fontsize=8)
        axis.minorticks_off()
        axis.set_title(
            box.replace("_", " ")
            + (
                " (examples from the ERM surrogate)" if box == "black_box" else " (each model attacks itself)"
            ),
            fontsize=9,
        )
        axis.set_xlabel("mixup alpha (0 = ERM)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    axes[0].set_ylabel("top-1 error (%)")
    figure.suptitle("Adversarial robustness: mean over seeds, bars: 95% bootstrap interval of the mean")
    return save_figure(figure, out, "adversarial")


@register_study("adversarial")
def render(context: StudyContext) -> StudyOutput:
    runs, out = context.runs, context.out
    table = adversarial_table(runs)
    csv = save_table(table, out, "adversarial")
    with_paper = paper.comparable(runs, paper.TABLE3_SETTING)
    replica = table3(table, with_paper)
    replica_csv = out / "adversarial_table3.csv"
    replica.to_csv(replica_csv, index=False)
    epsilon = runs["adversarial_epsilon"].iloc[0] if "adversarial_epsilon" in runs else float("nan")
    markdown = "\n\n".join(
        [
            "## Adversarial robustness (Section 3.5, Table 3)",
            f"FGSM and I-FGSM (10 equal steps), epsilon {epsilon:.4g} on inputs in [0, 1], true labels. "
            "Ours: mean ± std over seeds, errors in %. "
            + (
                f"Paper: {paper.TABLE3_SOURCE}."
                if with_paper
                else paper.not_comparable(runs, paper.TABLE3_SETTING, "Table 3")
            ),
            markdown_table(replica),
            "![adversarial](adversarial.png)",
        ]
    )
    return StudyOutput([csv, replica_csv, *plot_robustness(table, out)], markdown)
