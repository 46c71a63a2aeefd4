"""Comparison figures for any sweep, whatever its study: which axes mattered, and each setting over its seeds.

- parallel coordinates of the swept options against the sweep's metric,
- parameter importance by Optuna's own fANOVA evaluator,
- a table with one row per setting, aggregated over seeds.

The figures are Optuna's (``optuna.visualization.matplotlib``), drawn from an
in-memory study built from the finished runs: each run becomes a trial with
its swept options as params and its final metric as value. Nothing here
computes importance itself. The driver writes these to the sweep's parent run
when the sweep ends (``mixup_tune.runner``); ``analyze`` writes them too.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .render import markdown_table, save_figure, save_table
from .runs import finished, varying_options
from .stats import seed_stats
from .studies.regularisers import method_of

COMPARISON_DIR = "comparison"  # on the parent run, and the files' stem prefix
SEED = "seed"
# Options that set the data a trial sees, not how it learns: held fixed in the figures, never ranked as
# hyperparameters (a label-noise rate "explains" error, but no one would tune it)
DATA_CONDITIONS = frozenset(
    {
        "dataset",
        "data_root",
        "data_path",
        "train_subset",
        "test_subset",
        "val_fraction",
        "label_noise",
        "label_noise_protocol",
        "noise_seed",
        "label_column",
        "split_column",
    }
)
# the best trials dark purple, the worst yellow: no line fades into the white page as Optuna's Blues do
COLOURS = {"minimize": "viridis", "maximize": "viridis_r"}
_EVALUATOR_SEED = 0  # fANOVA's random forest: the same runs give the same importances


def compare(runs: pd.DataFrame, metric: str, mode: str, out: Path) -> tuple[list[Path], str]:
    """Write the comparison files to ``out``; return them and their section of report.md."""
    done = finished(runs)
    done = done[done[metric].notna()] if metric in done else done.iloc[0:0]
    axes = varying_options(done)
    if done.empty or not axes:
        return [], ""
    out.mkdir(parents=True, exist_ok=True)
    settings = [axis for axis in axes if axis != SEED]
    if settings:  # grouped by each option's text: a tuple, such as hidden sizes, is a setting too
        as_text = done.assign(**{axis: done[axis].astype(str) for axis in settings})
        named = "alpha" in done and not ("task" in done and done["task"].eq("gan").any())
        if named:  # what each setting trains with, by name: ERM, label smoothing, CutMix, not "mixup" at 0
            as_text["method"] = done.apply(method_of, axis=1)
        table = seed_stats(as_text, ["method", *settings] if named else settings, [metric])
    else:  # seeds alone: one row
        table = seed_stats(done.assign(setting="all"), ["setting"], [metric])
    table = table.sort_values(f"{metric}_mean", ascending=mode == "min").reset_index(drop=True)
    files = [save_table(table, out, "comparison_by_setting")]
    lines = [
        "## Comparison",
        f"One row per setting, over its seeds ({metric}, best first): "
        "[comparison_by_setting.csv](comparison_by_setting.csv).",
        markdown_table(table.head(20)),
    ]
    hyperparameters = [axis for axis in settings if axis not in DATA_CONDITIONS]
    held, where = _one_condition(done, [axis for axis in settings if axis in DATA_CONDITIONS])
    study = _study(held, hyperparameters, metric, mode) if hyperparameters else None
    if study is None or len(study.trials) < 2:
        return files, "\n\n".join(lines)
    product = _is_product(held, hyperparameters)
    files += _figures(study, hyperparameters, metric, out, where, importance=product)
    lines += [
        f"Parallel coordinates of the hyperparameters{where} (seeds{' and data conditions' if where else ''} "
        "left out; one line per trial):",
        "![parallel coordinates](comparison_parallel_coordinates.png)",
    ]
    if len(hyperparameters) >= 2 and not product:
        lines.append(
            "No importance: the settings are not a product of the options' values (a `variants:` design), "
            "where fANOVA's marginals average over settings that never ran."
        )
    elif len(hyperparameters) >= 2:
        importances = _importances(study)
        frame = pd.DataFrame({"option": list(importances), "importance": list(importances.values())})
        files.append(save_table(frame, out, "comparison_importance"))
        lines += [
            f"Importance of each hyperparameter for {metric}{where} (Optuna's fANOVA, normalised to 1; seeds "
            "and data conditions left out):",
            markdown_table(frame, digits=3),
            "![importance](comparison_importance.png)",
        ]
    return files, "\n\n".join(lines)


def _one_condition(done: pd.DataFrame, conditions: list[str]) -> tuple[pd.DataFrame, str]:
    """The runs of one data condition (the first value of each varying one), and how to say which."""
    if not conditions:
        return done, ""
    chosen = {axis: sorted(done[axis].unique(), key=str)[0] for axis in conditions}
    held = done
    for axis, value in chosen.items():
        held = held[held[axis] == value]
    return held, " at " + ", ".join(f"{axis}={value}" for axis, value in chosen.items())


def _is_product(done: pd.DataFrame, axes: list[str]) -> bool:
    """Whether the runs' settings are every combination of the values each option takes, or drawn at random
    (an option with as many values as there are settings: random search, Optuna)."""
    values = done[axes].astype(str)
    settings = len(values.drop_duplicates())
    counts = [values[axis].nunique() for axis in axes]
    return any(count >= settings for count in counts if settings > 2) or math.prod(counts) == settings


def _choice(value: Any) -> Any:
    """A categorical value as Optuna stores one: a number, bool, None or text (a tuple as its text)."""
    return value if value is None or isinstance(value, (bool, int, float, str)) else str(value)


def _study(done: pd.DataFrame, axes: list[str], metric: str, mode: str) -> Any:
    """An in-memory Optuna study, one trial per finished run: its swept options and its final ``metric``."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions: dict[str, Any] = {}
    for axis in axes:
        values = done[axis].tolist()
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric and all(isinstance(v, int) for v in values):
            distributions[axis] = IntDistribution(int(min(values)), int(max(values)))
        elif numeric and all(math.isfinite(v) for v in values):
            distributions[axis] = FloatDistribution(float(min(values)), float(max(values)))
        else:
            distributions[axis] = CategoricalDistribution(sorted({_choice(v) for v in values}, key=str))
    study = optuna.create_study(direction="minimize" if mode == "min" else "maximize")
    categorical = {
        axis for axis, given in distributions.items() if isinstance(given, CategoricalDistribution)
    }
    for _, row in done.iterrows():
        values = {axis: row[axis].item() if isinstance(row[axis], np.generic) else row[axis] for axis in axes}
        params = {axis: _choice(value) if axis in categorical else value for axis, value in values.items()}
        study.add_trial(
            optuna.trial.create_trial(params=params, distributions=distributions, value=float(row[metric]))
        )
    return study


def _importances(study: Any) -> dict[str, float]:
    import optuna

    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=_EVALUATOR_SEED)
    return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))


def _figures(study: Any, axes: list[str], metric: str, out: Path, where: str, importance: bool) -> list[Path]:
    import optuna
    from optuna.visualization import matplotlib as plots

    files: list[Path] = []
    # Optuna's importance plot sets the ggplot style for the whole process (plt.style.use): put it back, so
    # that a second call (a notebook, `analyze` after a sweep in one process) draws what the first did
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # plots marked experimental
        axis = plots.plot_parallel_coordinate(study, params=axes, target_name=metric)
        for lines in axis.collections:  # Optuna's Blues fade the worst trials into the page
            lines.set_cmap(COLOURS[study.direction.name.lower()])
        axis.set_title("")  # Optuna's sits on the axes' top ticks: the figure's own title, above them
        axis.figure.suptitle(f"{metric} against the hyperparameters{where}, one line per trial", fontsize=11)
        files += _saved(axis, (max(7.0, 1.8 * len(axes) + 4), 4.8), out, "comparison_parallel_coordinates")
        if len(axes) >= 2 and importance:
            evaluator = optuna.importance.FanovaImportanceEvaluator(seed=_EVALUATOR_SEED)
            axis = plots.plot_param_importances(study, evaluator=evaluator, target_name=metric)
            axis.set_title(f"Importance for {metric} (Optuna's fANOVA)", loc="left")  # over Optuna's own
            files += _saved(axis, (7.0, 1.6 + 0.45 * len(axes)), out, "comparison_importance")
    return files


def _saved(axis: Any, size: tuple[float, float], out: Path, stem: str) -> list[Path]:
    """An Optuna plot's figure, resized to fit its labels, saved as the other figures are."""
    figure: plt.Figure = axis.figure
    figure.set_size_inches(*size)
    figure.tight_layout()
    return save_figure(figure, out, stem)


def log_comparison(sweep: str, tracking_uri: str, metric: str, mode: str, parent_run_id: str) -> int:
    """At a sweep's end: the comparison of its runs as artifacts of its parent run, under ``comparison/``,
    where the MLflow UI shows them. Returns how many files were logged."""
    from mlflow.tracking import MlflowClient

    from .runs import load_runs

    runs = load_runs(sweep, tracking_uri)
    with tempfile.TemporaryDirectory() as directory:
        files, markdown = compare(runs, metric, mode, Path(directory))
        if markdown:
            (Path(directory) / "comparison.md").write_text(markdown + "\n")
            files.append(Path(directory) / "comparison.md")
        client = MlflowClient(tracking_uri)
        for path in files:
            client.log_artifact(parent_run_id, str(path), COMPARISON_DIR)
    return len(files)
