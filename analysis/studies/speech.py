"""Section 3.3 and Figure 4: validation and test error of LeNet and VGG-11 on Speech Commands, ERM against
mixup.

Last-epoch errors in %, mean ± std over seeds, per model and alpha (0 is
ERM), beside the paper's. The paper trained on the full dataset (65,000 clips,
30 classes); a sweep on the v0.02 test set shipped here (4,890 clips, 12
classes, split by speaker) is a smaller problem, and the report says which.
"""

from __future__ import annotations

import pandas as pd

from .. import paper
from ..render import StudyOutput, markdown_table, mean_std, method_labels, save_table
from ..runs import finished
from ..stats import seed_stats
from ._registry import StudyContext, register_study

# val_error: the last epoch's, as MLflow keeps it
METRICS = (
    "val_error",
    "last_test_error",
    "train_error_real",
)


def speech_table(runs: pd.DataFrame) -> pd.DataFrame:
    usable = finished(runs)
    metrics = [m for m in METRICS if m in usable.columns]
    table = (
        seed_stats(usable, ["model", "alpha"], metrics).sort_values(["model", "alpha"]).reset_index(drop=True)
    )
    reference = paper.FIGURE4.rename(
        columns={"val_error": "paper_val_error", "test_error": "paper_test_error"}
    )
    if not paper.comparable(runs, paper.FIGURE4_SETTING):
        reference = reference.iloc[0:0]  # other epochs or data: no number of the paper's belongs beside these
    return table.merge(reference, on=["model", "alpha"], how="left")


@register_study("speech")
def render(context: StudyContext) -> StudyOutput:
    runs, out = context.runs, context.out
    table = speech_table(runs)
    csv = save_table(table, out, "speech")
    shown = pd.DataFrame({"model": table["model"], "method": method_labels(table["alpha"])})
    for metric, label in (
        ("val_error", "validation error"),
        ("last_test_error", "test error"),
        ("train_error_real", "training error"),
    ):
        if f"{metric}_mean" in table:
            shown[label] = mean_std(table, metric)
    shown["paper validation / test"] = [
        "" if v != v else f"{v:g} / {t:g}"
        for v, t in zip(table["paper_val_error"], table["paper_test_error"])
    ]
    dataset = runs["dataset"].iloc[0]
    warm_up = int(runs["mixup_warmup_epochs"].max()) if "mixup_warmup_epochs" in runs else 0
    markdown = "\n\n".join(
        [
            "## Speech commands (Section 3.3, Figure 4)",
            f"Dataset `{dataset}`; spectrograms of 160 x 101, mixup on spectrograms after {warm_up} ERM "
            "epoch(s). Errors in %, "
            "last epoch, mean ± std over seeds. "
            + (
                f"Paper: {paper.FIGURE4_SOURCE}. "
                if paper.comparable(runs, paper.FIGURE4_SETTING)
                else paper.not_comparable(runs, paper.FIGURE4_SETTING, "Figure 4") + " "
            )
            + "The clips shipped here are the v0.02 test set (4,890 clips, 12 classes, split by speaker "
            "80/10/10): "
            "trained on those, the levels are not the paper's, whose training set had 65,000 clips of 30 "
            "classes.",
            markdown_table(shown),
        ]
    )
    return StudyOutput([csv], markdown)
