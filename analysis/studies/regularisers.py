"""mixup against what came after it: CutMix, Manifold Mixup, label smoothing and Cutout, on error and on
calibration.

One table per noise rate: best and last test error, training error on the
corrupted labels, ECE and NLL on the unmixed test set, and FGSM error when the
sweep attacks; each a mean with its 95% interval over seeds. Each method is
set against ERM and against mixup, paired by seed (the same initialisation,
shuffling and corrupted labels). Reliability diagrams are drawn from the bins
each run logged (``calibration/reliability.json``), summed over seeds, and
error-against-strength curves wherever a method was run at several strengths.

The published claims are checked on this sweep's data. Published numbers are
of other data and networks (CIFAR, ImageNet), so beside ours they are "not
comparable" unless a sweep's setting is the paper's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from ..bootstrap import Interval
from ..render import (
    StudyOutput,
    markdown_table,
    save_figure,
    save_table,
    seed_caption,
    signed_interval,
)
from ..runs import finished
from ..stats import paired_by_seed, seed_stats
from ._beyond_error import beyond_error_table
from ._beyond_error import sections as beyond_error_sections
from ._family_ranking import openmixup_beside, published_orderings, ranking, with_median_last10
from ._registry import StudyContext, register_study
from ._reliability import plot_reliability, summed_bins

METHODS = (
    "ERM",
    "mixup",
    "CutMix",
    "Manifold Mixup",
    "label smoothing",
    "Cutout",
    "mixup + label smoothing",
    # the family (issue 30), by their display names
    "FMix",
    "ResizeMix",
    "SmoothMix",
    "SaliencyMix",
    "PuzzleMix",
    "RegMixup",
    "AugMix",
    "RandomMix",
    "mixup/CutMix (timm)",
)
METRICS = (
    ("last_test_error", "last test error"),
    ("test_error_median_last10", "median of last 10 epochs"),
    ("best_test_error", "best test error (minimum over epochs on the test set)"),
    ("train_error_corrupted", "train error, corrupted labels"),
    ("test_ece", "ECE"),
    ("test_nll", "NLL"),
    ("white_box_fgsm_error", "FGSM error"),
)
# the built-ins' display names, for runs recorded before each trial recorded its own (tags.MIXING)
_MIXERS = {"mixup": "mixup", "cutmix": "CutMix", "manifold_mixup": "Manifold Mixup"}
# What each method's paper claims, as this study can check it; the numbers they report are on CIFAR and
# ImageNet with large networks, so none is comparable with a small sweep's.
CLAIMS = (
    (
        "CutMix beats mixup on images",
        "Yun et al. (2019), the official code's README: CIFAR-100 PyramidNet-200 top-1 error 14.23 (CutMix), "
        "15.63 (mixup), 16.45 (ERM)",
    ),
    ("label smoothing improves ECE over ERM", "Müller et al. (2019); Szegedy et al. (2016) report accuracy"),
    ("mixup improves ECE over ERM", "Thulasidasan et al. (2019), CIFAR-10/100: lower ECE than ERM"),
    (
        "mixup resists label noise",
        "Zhang et al. (2018), Table 2: CIFAR-10 PreAct ResNet-18 at 50% noise, last test error 44.6 (ERM) "
        "against 12.7 (mixup, alpha 32)",
    ),
)


def _option(run: pd.Series, name: str, default: Any) -> Any:
    """An option's value; runs at an option's default before it existed do not log it (NaN)."""
    value = run.get(name, default)
    return default if value is None or (isinstance(value, float) and np.isnan(value)) else value


def method_of(run: pd.Series) -> str:
    """What the trial mixed with (its display name, as the trial recorded it, or ERM), with label smoothing
    and Cutout named when on. Runs recorded before that tag existed are named by their options."""
    recorded = run.get("mixing")
    if isinstance(recorded, str) and recorded:
        mixer = recorded
    elif isinstance(_option(run, "mix.method", None), str):  # a registry method's run of unknown name
        mixer = str(run["mix.method"])
    else:
        mixer = "ERM" if run["alpha"] == 0 else _MIXERS[_option(run, "mix_method", "mixup")]
    extras = [
        name
        for name, on in (
            ("label smoothing", _option(run, "label_smoothing", 0.0) > 0),
            ("Cutout", _option(run, "cutout", 0) > 0),
        )
        if on
    ]
    return " + ".join(extras) if mixer == "ERM" and extras else " + ".join([mixer, *extras])


def strength_of(run: pd.Series) -> float:
    """The strength a method is swept over: alpha, eps or the box's side."""
    if run["alpha"] > 0:
        return float(run["alpha"])
    return float(_option(run, "label_smoothing", 0.0) or _option(run, "cutout", 0))


def _order(method: str) -> int:
    return METHODS.index(method) if method in METHODS else len(METHODS)


def _setting_order(setting: str) -> tuple[int, str]:
    """A setting's place: its method's, then by name (``mixup (0.4)`` before ``mixup (1)``)."""
    return _order(setting.split(" (")[0]), setting


def with_settings(runs: pd.DataFrame) -> pd.DataFrame:
    """The finished runs, each with its ``method``, ``strength`` and ``setting``: the method, and its strength
    too where the sweep ran that method at more than one."""
    usable = finished(runs).copy()
    if "label_noise" not in usable:
        usable["label_noise"] = 0.0
    usable["method"] = usable.apply(method_of, axis=1)
    usable["strength"] = usable.apply(strength_of, axis=1)
    several = usable.groupby("method")["strength"].nunique() > 1
    usable["setting"] = [
        f"{method} ({strength:g})" if several[method] else method
        for method, strength in zip(usable["method"], usable["strength"])
    ]
    return usable


def reference_setting(settings: pd.DataFrame, method: str) -> str | None:
    """The setting that stands for ``method`` in comparisons: its strength 1 (alpha 1, the paper's usual)
    where it ran several, else its only one; None if it did not run."""
    rows = settings[settings["method"] == method].sort_values("strength")
    if rows.empty:
        return None
    at_one = rows[rows["strength"] == 1]
    return str((at_one if not at_one.empty else rows).iloc[0]["setting"])


def regulariser_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Seed statistics per (noise rate, setting), with each one's paired difference to ERM and to mixup in
    last test error and in ECE."""
    usable = with_settings(runs)
    metrics = [m for m, _ in METRICS if m in usable.columns]
    table = seed_stats(usable, ["label_noise", "setting", "method", "strength"], metrics)
    for control in ("ERM", "mixup"):
        against = reference_setting(usable, control)
        for metric in ("last_test_error", "test_ece"):
            if metric not in usable:
                continue
            pairs = [
                paired_by_seed(
                    usable[usable["label_noise"] == row.label_noise], "setting", row.setting, against, metric
                )
                if against is not None and row.setting != against
                else Interval(np.nan, np.nan, np.nan, 0)
                for row in table.itertuples()
            ]
            table[f"{metric}_minus_{control}"] = [p.estimate for p in pairs]
            table[f"{metric}_minus_{control}_low"] = [p.low for p in pairs]
            table[f"{metric}_minus_{control}_high"] = [p.high for p in pairs]
    order = table["method"].map(_order)
    return (
        table.assign(_order=order)
        .sort_values(["label_noise", "_order", "strength"])
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def _interval(table: pd.DataFrame, metric: str, digits: int = 1) -> list[str]:
    """``mean [low, high]``, the 95% bootstrap interval over seeds; the mean alone below two seeds."""
    return [
        Interval(mean, low, high, 0).text(digits)
        for mean, low, high in zip(table[f"{metric}_mean"], table[f"{metric}_low"], table[f"{metric}_high"])
    ]


def plot_strength(runs: pd.DataFrame, out: Path) -> list[Path]:
    """Last test error against each method's strength, where a method was run at more than one."""
    swept = runs.groupby("method")["strength"].nunique()
    methods = [m for m in sorted(swept.index, key=_order) if swept[m] > 1]
    if not methods:
        return []
    figure, axes = plt.subplots(
        1, len(methods), figsize=(3.2 * len(methods), 2.8), squeeze=False, constrained_layout=True
    )
    for axis, method in zip(axes[0], methods):
        rows = runs[runs["method"] == method]
        for k, (noise, group) in enumerate(rows.groupby("label_noise")):
            stats = group.groupby("strength")["last_test_error"].agg(["mean", "std"]).reset_index()
            axis.errorbar(
                stats["strength"],
                stats["mean"],
                yerr=stats["std"].fillna(0),
                marker="o",
                capsize=3,
                color=f"C{k}",
                label=f"noise {noise:.0%}",
            )
        axis.set_title(method, fontsize=8)
        axis.set_xlabel(
            "alpha" if rows["alpha"].max() > 0 else "eps" if "smoothing" in method else "box side (px)"
        )
        axis.set_ylabel("last test error (%)")
        axis.legend(fontsize=7)
    return save_figure(figure, out, "strength")


def _claims(table: pd.DataFrame) -> list[dict[str, str]]:
    """Each published claim, held up against this sweep's paired differences."""

    def row(noise: float, method: str) -> pd.Series | None:
        setting = reference_setting(table, method)
        match = table[(table["label_noise"] == noise) & (table["setting"] == setting)]
        return None if match.empty else match.iloc[0]

    def verdict(difference: float, low: float, high: float) -> str:
        if np.isnan(difference):
            return "not measured"
        shown = signed_interval([difference], [low], [high], digits=2)[0]
        if not np.isnan(low) and low <= 0 <= high:
            return f"no clear difference ({shown})"
        return ("holds" if difference < 0 else "does not hold") + f" ({shown})"

    lowest = min(table["label_noise"]) if len(table) else 0.0
    checks = []
    for claim, source in CLAIMS:
        if claim.startswith("CutMix"):
            found, metric, control, noise = row(lowest, "CutMix"), "last_test_error", "mixup", lowest
        elif claim.startswith("label smoothing"):
            found, metric, control, noise = row(lowest, "label smoothing"), "test_ece", "ERM", lowest
        elif claim.startswith("mixup improves"):
            found, metric, control, noise = row(lowest, "mixup"), "test_ece", "ERM", lowest
        else:
            noise = max(table["label_noise"]) if len(table) else 0.0
            found, metric, control = row(noise, "mixup"), "last_test_error", "ERM"
        difference = (
            np.nan
            if found is None or noise == 0 and claim.endswith("noise")
            else found.get(f"{metric}_minus_{control}", np.nan)
        )
        low, high = (
            (np.nan, np.nan)
            if found is None
            else (
                found.get(f"{metric}_minus_{control}_low", np.nan),
                found.get(f"{metric}_minus_{control}_high", np.nan),
            )
        )
        checks.append(
            {
                "claim": claim,
                "measured here (paired by seed, 95% interval)": f"noise {noise:.0%}, "
                f"{metric.replace('_', ' ')} minus {control}: "
                f"{verdict(float(difference), float(low), float(high))}",
                "published": f"{source} (not comparable: other data and networks)",
            }
        )
    return checks


@register_study("regularisers")
def render(context: StudyContext) -> StudyOutput:
    all_runs = with_median_last10(context.runs, context.history)
    runs, out = with_settings(all_runs), context.out
    table = regulariser_table(all_runs)
    files = [save_table(table, out, "regularisers")]
    sections = [
        "## mixup and its successors",
        "Errors and ECE in %, NLL in nats; each a mean [the 95% bootstrap interval of the mean over seeds], "
        f'last epoch unless it says otherwise; {seed_caption(table, "last_test_error")}. "best test error" '
        "chooses each trial's epoch on the test set: an optimistic number, shown for comparison only. "
        '"- ERM" and "- mixup" are the method minus ERM or mixup (at alpha 1 where several alphas ran) in '
        "last test error, paired by seed; a method run at several strengths has a row for each (in "
        "brackets).",
    ]
    for noise, rows in table.groupby("label_noise"):
        shown = pd.DataFrame({"method": rows["setting"]})
        for metric, label in METRICS:
            if f"{metric}_mean" in rows and rows[f"{metric}_mean"].notna().any():
                shown[label] = _interval(rows, metric, 3 if metric == "test_nll" else 1)
        for control in ("ERM", "mixup"):
            if f"last_test_error_minus_{control}" in rows:
                shown[f"- {control}"] = signed_interval(
                    rows[f"last_test_error_minus_{control}"],
                    rows[f"last_test_error_minus_{control}_low"],
                    rows[f"last_test_error_minus_{control}_high"],
                )
        sections += [f"### Label noise {noise:.0%}", markdown_table(shown.reset_index(drop=True))]
    sections += ["### The published claims, on this data", markdown_table(pd.DataFrame(_claims(table)))]
    for noise, rows in table.groupby("label_noise"):
        sections += [
            f"### Ranking, label noise {noise:.0%}",
            'By mean last test error; "- ERM" and "- mixup": paired by seed, 95% interval, * where it '
            "excludes 0. P(better than ERM): the chance that a run of the method errs less than a run of "
            "ERM (ties half); Wilcoxon p: the signed-rank test of the seeds' paired errors against ERM's "
            "(exact; with 6 seeds the least two-sided p is 0.031).",
            markdown_table(ranking(rows, runs[runs["label_noise"] == noise])),
        ]
    clean = table[table["label_noise"] == table["label_noise"].min()]
    orderings, tau = published_orderings(clean)
    if not orderings.empty:
        sections += [
            f"### The published orderings, label noise {clean['label_noise'].min():.0%}",
            "Each method's published place against ERM and mixup (OpenMixup's CIFAR-100 benchmark and the "
            "papers; other data and networks, so the direction only), as it holds here. " + tau,
            markdown_table(orderings),
        ]
    beside = openmixup_beside(runs)
    if not beside.empty:  # only runs of OpenMixup's own CIFAR-100 ResNet-18 setting, epochs and alpha
        sections += [
            "### Beside OpenMixup's CIFAR-100 benchmark (the same setting)",
            "Top-1 accuracy as OpenMixup reports it, the median of the last 10 epochs' test accuracy: ours a "
            "mean ± 95% interval over seeds, and the seeds' range; theirs one run.",
            markdown_table(beside),
        ]
    beyond = beyond_error_table(runs, _setting_order)
    texts, figures = beyond_error_sections(runs, beyond, out, "regularisers", _setting_order)
    files += [save_table(beyond, out, "regularisers_beyond_error"), *figures]
    sections += texts
    summed = summed_bins(MlflowClient(context.tracking_uri), runs)
    if summed:
        files += plot_reliability(summed, out, _setting_order)
        sections.append("![reliability diagrams](reliability.png)")
    strength = plot_strength(runs, out)
    files += strength
    sections.append(
        "![error against strength](strength.png)"
        if strength
        else "Each method ran at one strength: no error-against-strength curve (sweep alpha, "
        "label_smoothing or cutout for one)."
    )
    return StudyOutput(files, "\n\n".join(sections))
