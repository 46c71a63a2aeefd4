"""Section 3.1 and Table 1: top-1 and top-5 error per network, epochs and alpha, beside the paper's ImageNet
numbers."""

from __future__ import annotations

import pandas as pd

from .. import paper
from ..render import StudyOutput, markdown_table, mean_std, method_labels, save_table
from ..runs import finished
from ..stats import seed_stats
from ._registry import StudyContext, register_study

KEYS = ["model", "epochs", "alpha"]


def imagenet_table(runs: pd.DataFrame) -> pd.DataFrame:
    usable = finished(runs)
    metrics = [m for m in ("last_test_error", "test_error_top5") if m in usable.columns]
    table = seed_stats(usable, KEYS, metrics).sort_values(KEYS).reset_index(drop=True)
    reference = paper.TABLE1.rename(columns={"top1_error": "paper_top1", "top5_error": "paper_top5"})
    if "dataset" in usable and not set(usable["dataset"]) <= paper.TABLE1_SETTING.datasets:
        # not ImageNet read from its folders: rows match by network, epochs and alpha only there
        reference = reference.iloc[0:0]
    return table.merge(reference, on=KEYS, how="left")


@register_study("imagenet")
def render(context: StudyContext) -> StudyOutput:
    table = imagenet_table(context.runs)
    csv = save_table(table, context.out, "imagenet")
    shown = table[["model", "epochs"]].assign(method=method_labels(table["alpha"]))
    shown["top-1 error"] = mean_std(table, "last_test_error")
    if "test_error_top5_mean" in table:
        shown["top-5 error"] = mean_std(table, "test_error_top5")
    shown["paper top-1 / top-5"] = [
        "" if t1 != t1 else f"{t1:g} / {'-' if t5 != t5 else f'{t5:g}'}"
        for t1, t5 in zip(table["paper_top1"], table["paper_top5"])
    ]
    dataset = context.runs["dataset"].iloc[0]
    markdown = "\n\n".join(
        [
            "## ImageNet recipe (Section 3.1, Table 1)",
            f"Dataset `{dataset}`; last-epoch error in %, mean ± std over seeds. Paper: "
            f"{paper.TABLE1_SOURCE}.",
            markdown_table(shown),
        ]
    )
    return StudyOutput([csv], markdown)
