"""The regularisers study's ranking of the methods, and the published orderings held up against it.

The ranking sorts a noise rate's settings by mean last test error, beside each one's difference to ERM
and to mixup paired by seed (the same initialisation, shuffling and corrupted labels), with its 95%
interval. The published orderings are OpenMixup's CIFAR-100 benchmark (ResNet-18, 800 epochs, one run
each, "median of the last 10 epochs") and the claims of the papers it does not cover; they are of other
data and networks, so what is checked is the direction (better or worse than ERM or mixup), never a
number, and Kendall's tau between their order and ours on the methods both have.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..bootstrap import Interval, probability_of_improvement, wilcoxon_signed_rank
from ..render import excludes_zero, signed_interval
from ..stats import mean_interval

# OpenMixup's CIFAR-100 top-1 accuracy (%), ResNet-18, SGD, cosine, 800 epochs, median of the last 10
# epochs of one run (../shared/reference/MIXUP-FAMILY.md), by our display names.
OPENMIXUP_CIFAR100 = {
    "ERM": 78.04,
    "mixup": 79.12,
    "CutMix": 78.17,
    "Manifold Mixup": 80.35,
    "FMix": 79.69,
    "ResizeMix": 80.01,
    "SmoothMix": 78.69,
    "SaliencyMix": 79.12,
    "PuzzleMix": 81.13,
}
OPENMIXUP_SOURCE = "OpenMixup's CIFAR-100 benchmark (ResNet-18, 800 epochs, one run each)"
# Papers' claims of methods OpenMixup's table leaves out: (method, better than, source). AugMix's is
# about corrupted data (CIFAR-10-C), with clean error about ERM's: issue 31's corruptions check it.
OTHER_CLAIMS = (
    ("RegMixup", "mixup", "Pinto et al. (2022): above mixup in accuracy, CIFAR-10/100 (their tables; check)"),
    ("RandomMix", "mixup", "Liu et al. (2022): above each of its candidates on CIFAR (check)"),
)


def _verdict(difference: float, low: float, high: float, published_better: bool) -> str:
    if np.isnan(difference):
        return "not measured"
    shown = signed_interval([difference], [low], [high], digits=2)[0]
    if not np.isnan(low) and low <= 0 <= high:
        return f"no clear difference ({shown})"
    ours_better = difference < 0
    return ("holds" if ours_better == published_better else "reversed") + f" ({shown})"


def _control_interval(row: pd.Series, control: str) -> tuple[float, float, float]:
    """A setting's paired difference to ``control`` in last test error, and its interval's bounds."""
    column = f"last_test_error_minus_{control}"
    low, high = row.get(f"{column}_low", np.nan), row.get(f"{column}_high", np.nan)
    return float(row.get(column, np.nan)), float(low), float(high)


def ranking(rows: pd.DataFrame, runs: pd.DataFrame | None = None) -> pd.DataFrame:
    """One noise rate's settings by mean last test error, with the paired differences to ERM and mixup;
    given the noise rate's ``runs`` (setting, seed, last_test_error), also each setting's probability of
    improvement over ERM and Wilcoxon's signed-rank p-value against it, paired by seed."""
    ranked = rows.sort_values("last_test_error_mean").reset_index(drop=True)
    shown = pd.DataFrame({"rank": range(1, len(ranked) + 1), "method": ranked["setting"]})
    shown["last test error"] = [
        Interval(mean, low, high, 0).text(1)
        for mean, low, high in zip(
            ranked["last_test_error_mean"], ranked["last_test_error_low"], ranked["last_test_error_high"]
        )
    ]
    for control in ("ERM", "mixup"):
        column = f"last_test_error_minus_{control}"
        if column in ranked:
            lows, highs = ranked[f"{column}_low"], ranked[f"{column}_high"]
            texts = signed_interval(ranked[column], lows, highs, digits=2)
            stars = excludes_zero(lows, highs)  # no interval: no star
            shown[f"- {control}"] = [
                text + (" *" if star else "") if text else "–" for text, star in zip(texts, stars)
            ]
    if runs is not None and "ERM" in set(runs["setting"]):
        by_seed = runs.pivot_table(index="seed", columns="setting", values="last_test_error", aggfunc="mean")
        erm = by_seed["ERM"]
        shown["P(better than ERM)"] = [
            "–" if setting == "ERM" else f"{probability_of_improvement(by_seed[setting], erm):.2f}"
            for setting in ranked["setting"]
        ]
        shown["Wilcoxon p vs ERM"] = [
            "–" if setting == "ERM" else f"{wilcoxon_signed_rank(by_seed[setting], erm):.3f}"
            for setting in ranked["setting"]
        ]
    return shown


def published_orderings(rows: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Each method's published place against ERM and mixup, as it holds on ``rows`` (one noise rate), and
    a line on Kendall's tau between OpenMixup's order and ours."""
    by_method = rows.drop_duplicates("method").set_index("method")
    checks = []
    for method, accuracy in OPENMIXUP_CIFAR100.items():
        if method not in by_method.index or method == "ERM":  # ERM's place is every other row's
            continue
        for control in ("ERM", "mixup"):
            if method == control:
                continue
            published = accuracy - OPENMIXUP_CIFAR100[control]
            if published == 0:
                continue
            row = by_method.loc[method]
            checks.append(
                {
                    "ordering": f"{method} {'above' if published > 0 else 'below'} {control}",
                    "published": f"{accuracy:.2f} against {OPENMIXUP_CIFAR100[control]:.2f} top-1",
                    "here (last test error minus, paired, 95% interval)": _verdict(
                        *_control_interval(row, control), published > 0
                    ),
                }
            )
    for method, control, source in OTHER_CLAIMS:
        if method in by_method.index:
            row = by_method.loc[method]
            checks.append(
                {
                    "ordering": f"{method} above {control}",
                    "published": source,
                    "here (last test error minus, paired, 95% interval)": _verdict(
                        *_control_interval(row, control), True
                    ),
                }
            )
    common = [m for m in OPENMIXUP_CIFAR100 if m in by_method.index]
    if len(common) < 3:
        return pd.DataFrame(checks), "Too few of OpenMixup's methods ran here for a rank correlation."
    from scipy.stats import kendalltau  # here: scipy.stats costs 0.4 s of imports

    tau, p = kendalltau(
        [OPENMIXUP_CIFAR100[m] for m in common], [-by_method.loc[m, "last_test_error_mean"] for m in common]
    )
    line = (
        f"Kendall's tau between OpenMixup's CIFAR-100 order and this sweep's mean last test error, over the "
        f"{len(common)} methods both have: {tau:+.2f} (p = {p:.2f}; +1 is the same order, 0 none)."
    )
    return pd.DataFrame(checks), line


# OpenMixup's CIFAR-100 ResNet-18 columns (top-1 %, median of the last 10 epochs, one run), by epochs,
# with the alpha each method was run at (docs/en/mixup_benchmarks/Mixup_cifar.md, Westlake-AI/openmixup).
OPENMIXUP_CIFAR100_BY_EPOCHS = {
    "ERM": (None, {200: 76.42, 400: 77.73, 800: 78.04, 1200: 78.55}),
    "mixup": (1.0, {200: 78.52, 400: 79.34, 800: 79.12, 1200: 79.24}),
    "CutMix": (0.2, {200: 79.45, 400: 79.58, 800: 78.17, 1200: 78.29}),
    "Manifold Mixup": (2.0, {200: 79.18, 400: 80.18, 800: 80.35, 1200: 80.21}),
    "SaliencyMix": (0.2, {200: 79.75, 400: 79.64, 800: 79.12, 1200: 77.66}),
    "FMix": (0.2, {200: 78.91, 400: 79.91, 800: 79.69, 1200: 79.50}),
    "PuzzleMix": (1.0, {200: 79.96, 400: 80.82, 800: 81.13, 1200: 81.10}),
}
# The setting of those columns, as our options: a run matches only with all of these.
OPENMIXUP_SETTING = {
    "dataset": "cifar100",
    "model": "resnet18_cifar",
    "batch_size": 100,
    "optimizer.name": "sgd",
    "optimizer.lr": 0.1,
    "optimizer.momentum": 0.9,
    "optimizer.weight_decay": 1e-4,
    "schedule.name": "cosine",
    "label_noise": 0.0,
}


def _matches(run: pd.Series) -> bool:
    for key, wanted in OPENMIXUP_SETTING.items():
        value = run.get(key)
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return False
        if isinstance(wanted, float) and not np.isclose(float(value), wanted):
            return False
        if not isinstance(wanted, float) and str(value) != str(wanted):
            return False
    return True


def openmixup_beside(runs: pd.DataFrame) -> pd.DataFrame:
    """Our median-of-the-last-10-epochs accuracy beside OpenMixup's, for the methods whose runs match its
    CIFAR-100 ResNet-18 setting, epochs and alpha; empty where none does (then nothing is printed)."""
    if runs.empty or "test_error_median_last10" not in runs:
        return pd.DataFrame()
    matching = runs[runs.apply(_matches, axis=1)]
    rows = []
    for method, (alpha, by_epochs) in OPENMIXUP_CIFAR100_BY_EPOCHS.items():
        mine = matching[matching["method"] == method]
        if alpha is not None:
            mine = mine[np.isclose(mine["alpha"].astype(float), alpha)]
        for epochs, published in by_epochs.items():
            at = mine[mine["epochs"].astype(float) == epochs]["test_error_median_last10"].dropna()
            if at.empty:
                continue
            accuracy = 100 - at
            interval = mean_interval(accuracy)
            rows.append(
                {
                    "method": method,
                    "epochs": epochs,
                    "seeds": len(at),
                    "ours: median of the last 10 epochs, top-1 %": interval.text(2)
                    + f"; seeds {accuracy.min():.2f} to {accuracy.max():.2f}",
                    "OpenMixup (one run)": f"{published:.2f}",
                }
            )
    return pd.DataFrame(rows)


def with_median_last10(
    runs: pd.DataFrame, history: Callable[[list[str], tuple[str, ...]], pd.DataFrame]
) -> pd.DataFrame:
    """``runs`` with ``test_error_median_last10`` where the trials did not report it (trials recorded before
    the trainable did): the median of each run's last 10 logged epochs of test error, from its history."""
    if "test_error_median_last10" in runs and runs["test_error_median_last10"].notna().all():
        return runs
    points = history(list(runs["run_id"]), ("test_error",))
    if points.empty or "test_error" not in points:
        return runs
    medians = (
        points.dropna(subset=["test_error"])
        .sort_values("epoch")
        .groupby("run_id")["test_error"]
        .apply(lambda errors: float(errors.tail(10).median()))
    )
    filled = runs.copy()
    recorded = filled.get("test_error_median_last10", pd.Series(np.nan, index=filled.index))
    filled["test_error_median_last10"] = recorded.fillna(filled["run_id"].map(medians))
    return filled
