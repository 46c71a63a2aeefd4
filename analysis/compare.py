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

COMPARISON_DIR = "comparison"  # on the parent run, and the files' stem prefix
SEED = "seed"
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
        table = seed_stats(as_text, settings, [metric])
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
    study = _study(done, axes, metric, mode)
    if len(study.trials) >= 2:
        files += _figures(study, axes, metric, out)
        lines.append("![parallel coordinates](comparison_parallel_coordinates.png)")
        if len(axes) >= 2:
            importances = _importances(study)
            frame = pd.DataFrame({"option": list(importances), "importance": list(importances.values())})
            files.append(save_table(frame, out, "comparison_importance"))
            lines += [
                f"Importance of each swept option for {metric} (Optuna's fANOVA, normalised to 1):",
                markdown_table(frame, digits=3),
                "![importance](comparison_importance.png)",
            ]
    return files, "\n\n".join(lines)


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


def _figures(study: Any, axes: list[str], metric: str, out: Path) -> list[Path]:
    import optuna
    from optuna.visualization import matplotlib as plots

    files: list[Path] = []
    # Optuna's importance plot sets the ggplot style for the whole process (plt.style.use): put it back, so
    # that a second call (a notebook, `analyze` after a sweep in one process) draws what the first did
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # plots marked experimental
        axis = plots.plot_parallel_coordinate(study, params=axes, target_name=metric)
        axis.set_title(f"{metric} against the swept options, one line per finished trial")
        files += _saved(axis, (max(7.0, 1.5 * len(axes) + 3), 4.8), out, "comparison_parallel_coordinates")
        if len(axes) >= 2:
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
