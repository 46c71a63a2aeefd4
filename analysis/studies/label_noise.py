"""Section 3.4 and Table 2: memorisation of corrupted labels, ERM against dropout and mixup.

Each trial is one method (ERM: alpha = 0 and no dropout; dropout: p > 0; mixup:
alpha > 0) at one setting and noise rate. Like the paper ("results for the best
models"), Table 2 shows for each noise rate and method the setting with the
lowest best test error, averaged over seeds. Errors are in %.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from .. import paper
from ..render import StudyOutput, markdown_table, mean_std, save_figure, save_table
from ..runs import finished
from ..stats import seed_stats
from ._beyond_error import beyond_error_table
from ._beyond_error import sections as beyond_error_sections
from ._registry import HistoryLoader, StudyContext, register_study

METRICS = ("best_test_error", "last_test_error", "train_error_real", "train_error_corrupted")
LABELS = {
    "best_test_error": "test error, best (the paper's protocol: the minimum over epochs on the test set)",
    "last_test_error": "test error, last",
    "train_error_real": "train error, real labels",
    "train_error_corrupted": "train error, corrupted labels",
}
METHOD_ORDER = {"ERM": 0, "dropout": 1, "mixup": 2, "mixup + dropout": 3}
COLOURS = {"ERM": "tab:red", "dropout": "tab:blue", "mixup": "tab:green", "mixup + dropout": "tab:purple"}
STRONG_ALPHA = 8  # the paper: "mixup with a large alpha (e.g. 8 or 32)"


def with_methods(runs: pd.DataFrame) -> pd.DataFrame:
    """Finished, non-diverged trials, labelled with their method and setting."""
    usable = finished(runs).copy()
    mixup, dropout = usable["alpha"] > 0, usable["dropout"] > 0
    usable["method"] = "ERM"
    usable.loc[dropout, "method"] = "dropout"
    usable.loc[mixup, "method"] = "mixup"
    usable.loc[mixup & dropout, "method"] = "mixup + dropout"
    usable["setting"] = ""
    # no dropout runs: an empty selection
    usable.loc[dropout, "setting"] = usable.loc[dropout, "dropout"].map("p={:g}".format)
    usable.loc[mixup, "setting"] = usable.loc[mixup, "alpha"].map("alpha={:g}".format)
    usable.loc[mixup & dropout, "setting"] = usable["setting"] + ", p=" + usable["dropout"].map("{:g}".format)
    return usable


def settings_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Seed statistics for every (noise, method, setting), with alpha and dropout for ordering."""
    labelled = with_methods(runs)
    metrics = [*METRICS, *(["val_error"] if "val_error" in labelled else [])]
    table = seed_stats(labelled, ["label_noise", "method", "setting", "alpha", "dropout"], metrics)
    table["order"] = table["method"].map(METHOD_ORDER)
    return (
        table.sort_values(["label_noise", "order", "alpha", "dropout"])
        .drop(columns="order")
        .reset_index(drop=True)
    )


def best_settings(settings: pd.DataFrame) -> pd.DataFrame:
    """Per noise rate and method, the setting with the lowest mean best test error."""
    ranked = settings.sort_values(["label_noise", "method", "best_test_error_mean", "setting"])
    best = ranked.groupby(["label_noise", "method"], as_index=False).head(1)
    best = best.assign(order=best["method"].map(METHOD_ORDER)).sort_values(["label_noise", "order"])
    return best.drop(columns="order").reset_index(drop=True)


def table2(best: pd.DataFrame, with_paper: bool = True) -> pd.DataFrame:
    """Ours (mean ± std over seeds), one row per noise rate and method; beside the paper's where the setting
    is its own."""
    reference = paper.TABLE2.rename(
        columns={"setting": "paper setting", **{m: f"{m} (paper)" for m in METRICS}}
    )
    merged = best.merge(reference, on=["label_noise", "method"], how="left")
    out = pd.DataFrame(
        {
            "noise": (merged["label_noise"] * 100).map("{:.0f}%".format),
            "method": merged["method"],
            "setting": merged["setting"],
        }
    )
    if with_paper:
        out["paper setting"] = merged["paper setting"].fillna("")
    for metric in METRICS:
        out[f"{LABELS[metric]}"] = mean_std(merged, metric)
        if with_paper:
            # as printed
            out[f"{LABELS[metric]} (paper)"] = merged[f"{metric} (paper)"].map(
                lambda v: "" if v != v else f"{v:g}"
            )
    out["seeds"] = merged["best_test_error_n"].astype(int)
    return out


def finding(settings: pd.DataFrame) -> pd.DataFrame:
    """The paper's qualitative result, per noise rate: ERM memorises; strong mixup does not and tests better
    at the end."""
    rows = []
    for noise, group in settings.groupby("label_noise"):
        erm = group[group["method"] == "ERM"]
        strong = group[(group["method"] == "mixup") & (group["alpha"] >= STRONG_ALPHA)]
        if erm.empty or strong.empty:
            continue
        erm_row, strong_best = erm.iloc[0], strong.sort_values("last_test_error_mean").iloc[0]
        rows.append(
            {
                "noise": f"{noise:.0%}",
                "ERM train error, corrupted": erm_row["train_error_corrupted_mean"],
                f"mixup alpha>={STRONG_ALPHA} train error, corrupted (lowest)": strong[
                    "train_error_corrupted_mean"
                ].min(),
                "ERM last test error": erm_row["last_test_error_mean"],
                f"mixup alpha>={STRONG_ALPHA} last test error (best)": strong_best["last_test_error_mean"],
                "best strong alpha": strong_best["setting"],
                "ERM memorises more": bool(
                    erm_row["train_error_corrupted_mean"] < strong["train_error_corrupted_mean"].min()
                ),
                "mixup beats ERM on last test error": bool(
                    strong_best["last_test_error_mean"] < erm_row["last_test_error_mean"]
                ),
            }
        )
    return pd.DataFrame(rows)


CURVE_METRICS = ("train_error_corrupted", "test_error")


def plot_memorisation(
    load_history: HistoryLoader, runs: pd.DataFrame, best: pd.DataFrame, out: Path
) -> list[Path]:
    """Training error on the corrupted labels (top) and test error (bottom) per epoch, best setting of each
    method.

    Only the plotted runs' histories are read: over a tracking server, a
    thousand-run sweep's every history would take a minute.
    """
    labelled = with_methods(runs)[["run_id", "label_noise", "method", "setting"]]
    chosen = labelled.merge(
        best[["label_noise", "method", "setting"]], on=["label_noise", "method", "setting"]
    )
    curves = load_history(list(chosen["run_id"]), CURVE_METRICS).merge(chosen, on="run_id")
    noises = sorted(curves["label_noise"].unique())
    width, height = 4.2 * len(noises), 6.4  # inches
    figure, axes = plt.subplots(2, len(noises), figsize=(width, height), sharex=True, squeeze=False)
    # Fixed margins, in inches, instead of a layout engine: solving a constrained layout for these
    # eight panels took 0.3 s of the 5 s that `analyze` may take over a thousand runs (issue 5).
    left, right, gap = 0.75, 0.15, 0.45  # inches: the y label (first column only) and tick labels
    panel = (width - left - right - gap * (len(noises) - 1)) / len(noises)
    figure.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=0.55 / height,
        top=1 - 0.75 / height,
        wspace=gap / panel,
        hspace=0.12,
    )
    for column, noise in enumerate(noises):
        for row, metric in enumerate(CURVE_METRICS):
            axis = axes[row][column]
            at_noise = curves[curves["label_noise"] == noise]
            for (method, setting), group in sorted(
                at_noise.groupby(["method", "setting"]), key=lambda item: METHOD_ORDER[item[0][0]]
            ):
                per_epoch = group.groupby("epoch")[metric].agg(["mean", "std"]).fillna(0)
                label = f"{method} {setting}".strip()
                axis.plot(per_epoch.index, per_epoch["mean"], color=COLOURS[method], label=label)
                axis.fill_between(
                    per_epoch.index,
                    per_epoch["mean"] - per_epoch["std"],
                    per_epoch["mean"] + per_epoch["std"],
                    color=COLOURS[method],
                    alpha=0.15,
                )
            axis.set_title(f"{noise:.0%} of labels corrupted" if row == 0 else "")
            if column == 0:  # one label per row: the panels of a row share their metric
                axis.set_ylabel(
                    "train error on corrupted labels (%)"
                    if metric == "train_error_corrupted"
                    else "test error (%)"
                )
            axis.grid(alpha=0.3)
            if row == 1:
                axis.set_xlabel("epoch")
            if row == 0:  # the best setting can differ between noise rates
                axis.legend(fontsize=8, loc="lower left")
    figure.suptitle("Memorisation of corrupted labels: ERM fits them (error falls to 0); mixup does not")
    return save_figure(figure, out, "label_noise_memorisation")


def chosen_on_validation(settings: pd.DataFrame) -> pd.DataFrame:
    """Per noise rate and method, the setting with the lowest mean last-epoch validation error, and its
    last test error: the honest counterpart of Table 2's choice on the test set."""
    if "val_error_mean" not in settings or settings["val_error_mean"].isna().all():
        return pd.DataFrame()
    ranked = settings.sort_values(["label_noise", "method", "val_error_mean", "setting"])
    chosen = ranked.groupby(["label_noise", "method"], sort=False).head(1)
    order = chosen["method"].map(METHOD_ORDER)
    chosen = chosen.assign(_order=order).sort_values(["label_noise", "_order"])
    return pd.DataFrame(
        {
            "noise": chosen["label_noise"].map("{:.0%}".format),
            "method": chosen["method"],
            "setting (chosen on validation)": chosen["setting"],
            "validation error": mean_std(chosen, "val_error"),
            "test error, last": mean_std(chosen, "last_test_error"),
        }
    ).reset_index(drop=True)


def _labelled_by_setting(runs: pd.DataFrame) -> pd.DataFrame:
    """Finished runs with one ``setting`` name per method and setting (``mixup alpha=8``), for
    ``_beyond_error``."""
    labelled = with_methods(runs)
    return labelled.assign(setting=(labelled["method"] + " " + labelled["setting"]).str.strip())


def _setting_order(setting: str) -> tuple[int, str]:
    method = next((m for m in sorted(METHOD_ORDER, key=len, reverse=True) if setting.startswith(m)), "")
    return METHOD_ORDER.get(method, len(METHOD_ORDER)), setting


@register_study("label_noise")
def render(context: StudyContext) -> StudyOutput:
    runs, out = context.runs, context.out
    settings = settings_table(runs)
    best = best_settings(settings)
    with_paper = paper.comparable(runs, paper.TABLE2_SETTING)
    replica, check = table2(best, with_paper), finding(settings)
    files = []
    for name, frame in (
        ("label_noise_settings", settings),
        ("label_noise_table2", replica),
        ("label_noise_finding", check),
    ):
        path = out / f"{name}.csv"
        frame.to_csv(path, index=False, float_format="%.4f")
        files.append(path)
    files += plot_memorisation(context.history, runs, best, out)
    honest = chosen_on_validation(settings)
    labelled = _labelled_by_setting(runs)
    beyond = beyond_error_table(labelled, _setting_order)
    beyond_texts, figures = beyond_error_sections(labelled, beyond, out, "label_noise", _setting_order)
    files += [save_table(beyond, out, "label_noise_beyond_error"), *figures]
    markdown = "\n\n".join(
        [
            "## Memorisation of corrupted labels (Section 3.4, Table 2)",
            "Best setting of each method per noise rate (lowest mean best test error over seeds), ours as "
            "mean ± std over seeds. This reproduces the paper's protocol, which chooses on the test set: "
            '"best" is the minimum over epochs of the test error, and the setting is the one with the '
            "lowest; both are optimistic, and the last-epoch error beside them is not chosen on the test set"
            + (
                f", beside the paper's ({paper.TABLE2_SOURCE}). Errors in %."
                if with_paper
                else f". Errors in %. {paper.not_comparable(runs, paper.TABLE2_SETTING, 'Table 2')}"
            ),
            markdown_table(replica),
            "### The paper's finding, checked on these runs",
            markdown_table(check, digits=1),
            "![memorisation](label_noise_memorisation.png)",
            "### Every setting",
            markdown_table(
                settings[
                    ["label_noise", "method", "setting", *[f"{m}_mean" for m in METRICS], "best_test_error_n"]
                ].rename(columns={**{f"{m}_mean": LABELS[m] for m in METRICS}, "best_test_error_n": "seeds"}),
                digits=2,
            ),
            *(
                [
                    "### The setting chosen on the validation split",
                    "Per noise rate and method, the setting with the lowest mean last-epoch validation error "
                    "(a split of clean labels held out of the training set before corruption), and its "
                    "last-epoch test error: nothing here is chosen on the test set. Mean ± std over seeds.",
                    markdown_table(honest),
                ]
                if not honest.empty
                else []
            ),
            *beyond_texts,
        ]
    )
    return StudyOutput(files, markdown)
