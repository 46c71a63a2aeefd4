"""Section 3.7: does mixup make GAN training robust to hyper-parameters? ERM GAN against mixup GAN, setting by
setting.

The paper shows samples (Figure 5) and says "the training of mixup GANs
seems promisingly robust to hyper-parameter and architectural choices". Here
that is measured: every setting of the sweep (architecture, learning rate,
generator loss, ... : the axes other than alpha and the seed) is trained both
ways, and the spread of the final metrics over settings is compared, per
target. A setting "succeeds" when its generator covers every mode with at
least half of its samples of high quality (for the spiral, which has no
modes: the high-quality half alone).

Figure 5 is redrawn from the snapshots the trials logged: for each target,
ERM above mixup, at the snapshot iterations, for one setting (the paper's
3 x 512 networks and Adam's default rate when the sweep has them).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from mixup_tune.records import SNAPSHOT_DIR
from mixup_tune.records.names import GAN_QUALITY_METRICS

from ..render import StudyOutput, axes_grid, draw_snapshot, markdown_table, method_labels, save_figure
from ..runs import varying_options
from ._registry import StudyContext, register_study

FINAL_METRICS = GAN_QUALITY_METRICS  # each run's last evaluation
# trainables.tasks.gan_targets (not imported: it needs torch); the spiral has none
MODES = {
    "ring": 8,
    "grid": 25,
    "ring_unit": 8,
    "grid_unit": 25,
}
SUCCESS_QUALITY = 50.0  # % of samples of high quality for a setting to count as a success
PAPER_SETTING = {
    "gan.generator_widths": (512, 512, 512),
    "gan.discriminator_widths": (512, 512, 512),
    "optimizer.lr": 0.001,
}


def setting_columns(runs: pd.DataFrame) -> list[str]:
    """The sweep's axes other than the target, alpha and the seed: what "a setting" is."""
    return [name for name in varying_options(runs) if name not in ("gan.target", "alpha", "seed")]


def finished_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The finished runs, with their method label and whether each succeeded: what every table and figure here
    reads."""
    usable = runs[runs["status"] == "FINISHED"].copy()
    usable["method"] = method_labels(usable["alpha"])
    modes = usable["gan.target"].map(MODES)
    covered_all = usable["modes_covered"] >= modes if "modes_covered" in usable else modes.isna()
    # A diverged trial (NaN losses) is kept here, as a failure: failing is what the study measures.
    usable["success"] = (
        ~usable["diverged"] & (covered_all | modes.isna()) & (usable["high_quality"] >= SUCCESS_QUALITY)
    )
    return usable


def stability_table(usable: pd.DataFrame) -> pd.DataFrame:
    """Per target and method (of ``finished_runs``): how many runs, how many succeed, and the spread of each
    final metric over them."""
    rows = []
    for (target, alpha), group in usable.groupby(["gan.target", "alpha"], sort=True):
        row = {
            "target": target,
            "alpha": alpha,
            "method": group["method"].iloc[0],
            "runs": len(group),
            "succeeded": int(group["success"].sum()),
            "diverged": int(group["diverged"].sum()),
        }
        for metric in FINAL_METRICS:
            values = group[metric].dropna() if metric in group else pd.Series(dtype=float)
            row.update(
                {
                    f"{metric}_median": values.median(),
                    f"{metric}_min": values.min(),
                    f"{metric}_max": values.max(),
                    f"{metric}_iqr": values.quantile(0.75) - values.quantile(0.25),
                }
            )
        rows.append(row)
    return pd.DataFrame(rows)


def settings_table(usable: pd.DataFrame) -> pd.DataFrame:
    """One row per target and setting (of ``finished_runs``): ERM's and mixup's final metrics side by side
    (mean over seeds)."""
    keys = ["gan.target", *setting_columns(usable)]
    metrics = [m for m in FINAL_METRICS if m in usable]
    means = usable.groupby([*keys, "method"], dropna=False)[[*metrics, "success"]].mean()
    return means.unstack("method").sort_index().reset_index()


def snapshot_runs(finished: pd.DataFrame) -> pd.DataFrame:
    """Per target and method, the run whose snapshots Figure 5 shows: the paper's setting if swept, else the
    first; the lowest seed."""
    usable = finished.copy()
    usable["paper"] = sum(
        (usable[key].astype(str) == str(value)) for key, value in PAPER_SETTING.items() if key in usable
    )
    chosen = usable.sort_values(["paper", "seed"], ascending=[False, True], kind="stable")
    return chosen.groupby(["gan.target", "alpha"], sort=True).head(1).sort_values(["gan.target", "alpha"])


def load_snapshots(client: MlflowClient, run_id: str) -> dict[int, np.ndarray]:
    """Iteration -> generated points, from the run's snapshot artifacts."""
    with tempfile.TemporaryDirectory() as directory:
        try:
            folder = Path(client.download_artifacts(run_id, SNAPSHOT_DIR, directory))
        except Exception:  # no snapshot was logged (none of gan.snapshots was reached)
            return {}
        loaded = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    return {int(item["iteration"]): np.asarray(item["points"], dtype=float) for item in loaded}


def plot_figure5(chosen: pd.DataFrame, client: MlflowClient, out: Path) -> list[Path]:
    """Rows: each target's ERM and mixup run; columns: the snapshot iterations."""
    panels = [(row, load_snapshots(client, row.run_id)) for row in chosen.itertuples()]
    panels = [(row, snaps) for row, snaps in panels if snaps]
    if not panels:
        return []
    iterations = sorted({i for _, snaps in panels for i in snaps})
    figure, axes = plt.subplots(
        len(panels),
        len(iterations),
        figsize=(1.9 * len(iterations) + 0.6, 1.9 * len(panels) + 0.4),
        squeeze=False,
        constrained_layout=True,
    )
    for r, (row, snaps) in enumerate(panels):
        target = chosen.loc[row.Index, "gan.target"]  # a dotted name: not an attribute of the row
        for c, iteration in enumerate(iterations):
            if iteration in snaps:
                draw_snapshot(
                    axes[r][c], snaps[iteration], target, f"iteration {iteration:,}" if r == 0 else ""
                )
            else:
                axes[r][c].set_axis_off()
        label = "ERM GAN" if row.alpha == 0 else f"mixup GAN (alpha={row.alpha:g})"
        axes[r][0].set_ylabel(f"{target}\n{label}", fontsize=9)
    figure.suptitle("Figure 5: target (blue) and generated samples (orange)", fontsize=10)
    return save_figure(figure, out, "gan_samples")


def plot_stability(finished: pd.DataFrame, history: pd.DataFrame, out: Path) -> list[Path]:
    """Sample distance against iteration, every run: a panel per target and method, a colour per setting (the
    same in ERM's and mixup's panels)."""
    usable = finished.set_index("run_id")
    columns = setting_columns(usable)
    usable["setting"] = usable[columns].astype(str).agg(", ".join, axis=1) if columns else "the one setting"
    colours = {setting: f"C{i % 10}" for i, setting in enumerate(sorted(usable["setting"].unique()))}
    targets = sorted(usable["gan.target"].unique())
    methods = sorted(usable["method"].unique(), key=lambda m: (m != "ERM", m))
    figure, axes = axes_grid(len(targets), len(methods), (4.2 * len(methods) + 2.5, 2.8 * len(targets)))
    for r, target in enumerate(targets):
        for c, method in enumerate(methods):
            axis = axes[r][c]
            ids = usable.index[(usable["gan.target"] == target) & (usable["method"] == method)]
            for run_id in ids:
                points = history[history["run_id"] == run_id].sort_values("iteration")
                setting = usable.loc[run_id, "setting"]
                axis.plot(
                    points["iteration"],
                    points["sample_distance"],
                    color=colours[setting],
                    linestyle="-" if usable.loc[run_id, "success"] else "--",
                    alpha=0.8,
                    linewidth=1.2,
                )
            axis.set_yscale("log")
            axis.set_title(
                f"{target}, {method}: {int(usable.loc[ids, 'success'].sum())} of {len(ids)} succeed",
                fontsize=9,
            )
            axis.grid(alpha=0.3)
            if r == len(targets) - 1:
                axis.set_xlabel("generator iteration")
            if c == 0:
                axis.set_ylabel("sliced Wasserstein distance")
        axes[r][0].sharey(axes[r][-1])
    handles = [plt.Line2D([], [], color=colour, label=setting) for setting, colour in colours.items()]
    figure.legend(
        handles=handles,
        title=", ".join(columns) or None,
        loc="outside right center",
        fontsize=8,
        title_fontsize=8,
    )
    figure.suptitle(
        "Distance to the target over training, every run (solid: succeeds, dashed: does not)", fontsize=10
    )
    return save_figure(figure, out, "gan_stability")


def mixup_lower(usable: pd.DataFrame) -> tuple[int, int]:
    """In how many (target, setting, seed) pairs mixup's final distance is below ERM's, and how many pairs
    there are."""
    keys = ["gan.target", *setting_columns(usable), "seed"]
    paired = usable.pivot_table(index=keys, columns="alpha", values="sample_distance", aggfunc="mean")
    if 0 not in paired or len(paired.columns) < 2:
        return 0, 0
    mixup = paired.drop(columns=0).min(axis=1)  # the lowest over mixup's alphas, if several
    both = paired[0].notna() & mixup.notna()
    return int((mixup[both] < paired.loc[both, 0]).sum()), int(both.sum())


@register_study("gan")
def render(context: StudyContext) -> StudyOutput:
    runs, out = context.runs, context.out
    finished = finished_runs(runs)
    stability = stability_table(finished)
    settings = settings_table(finished)
    files = [out / "gan_stability.csv", out / "gan_settings.csv"]
    stability.to_csv(files[0], index=False, float_format="%.4f")
    settings.to_csv(files[1], index=False, float_format="%.4f")
    curves = context.history(list(finished["run_id"]), ("iteration", "sample_distance"))
    files += plot_stability(finished, curves, out)
    figure5 = plot_figure5(snapshot_runs(finished), MlflowClient(context.tracking_uri), out)
    files += figure5

    shown = pd.DataFrame({"target": stability["target"], "method": stability["method"]})
    shown["settings x seeds"] = stability["runs"]
    shown["succeed"] = [f"{s} of {n}" for s, n in zip(stability["succeeded"], stability["runs"])]
    shown["diverged"] = stability["diverged"]
    shown["modes covered: median [min, max]"] = [
        _spread(row, "modes_covered", "{:.0f}") + (f" of {MODES[row.target]}" if row.target in MODES else "")
        for row in stability.itertuples()
    ]
    shown["high quality %: median [min, max]"] = [
        _spread(row, "high_quality", "{:.0f}") for row in stability.itertuples()
    ]
    shown["distance: median [min, max]"] = [
        _spread(row, "sample_distance", "{:.3f}") for row in stability.itertuples()
    ]
    axes = setting_columns(finished)
    parts = [
        "## GAN stabilisation (Section 3.7)",
        f"Each setting ({', '.join(axes) if axes else 'one setting'}; times seeds) trained as an ERM GAN and "
        "as a mixup GAN; "
        + _MIXING.get(_mixing(finished), "")
        + "final metrics of the last evaluation. High quality: within 3 std of a mode (of the spiral's line; "
        "within 0.09 for "
        "the released code's unit ring and grid, whose std is 0.01); a mode is covered "
        "with a fifth of its fair share of those samples; distance: sliced Wasserstein-1 to the target. "
        f"A run succeeds when it covers every mode with >= {SUCCESS_QUALITY:.0f}% high-quality samples. The "
        "paper shows Figure 5 "
        'only, and says mixup GANs seem "robust to hyper-parameter and architectural choices": more '
        "successes and a narrower "
        "spread for mixup agree with it.",
        markdown_table(shown),
        "Paired by target, setting and seed, mixup's final distance is below ERM's in {} of {} pairs.".format(
            *mixup_lower(finished)
        ),
        "![stability](gan_stability.png)",
        "Per setting (mean over seeds): [gan_settings.csv](gan_settings.csv).",
    ]
    if figure5:
        parts.append("![Figure 5](gan_samples.png)")
    return StudyOutput(files, "\n\n".join(parts))


# How the discriminator mixed, as the report says it (trainables.tasks.gan); a sweep of one recipe.
_MIXING = {
    "paper": "mixup as the paper's formula has it (lambda ~ Beta(alpha, alpha) between real and generated "
    "points, target lambda); ",
    "released_code": "mixup as the authors' released code does it (two shuffled real-and-generated batches "
    "mixed point by point with "
    "weights ~ Uniform(0, alpha), the labels likewise; `gan.mixing: released_code`); ",
}


def _mixing(finished: pd.DataFrame) -> str:
    # a param left out at its default
    values = set(finished["gan.mixing"].fillna("paper")) if "gan.mixing" in finished else {"paper"}
    return next(iter(values)) if len(values) == 1 else "several"


def _spread(row: object, metric: str, number: str) -> str:
    median, low, high = (getattr(row, f"{metric}_{part}") for part in ("median", "min", "max"))
    if median != median:
        return ""
    return f"{number.format(median)} [{number.format(low)}, {number.format(high)}]"
