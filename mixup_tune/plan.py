"""``mixup-tune plan``: what ``run`` would do with a sweep file, worked out without doing any of it.

The trials come from the same expansion ``run`` uses (``search.grid_points``,
and ``search.searcher``'s count), and the trials already FINISHED come from
the same MLflow query (``SweepRecord.finished_keys``), so the plan counts what
the run then runs. Nothing is created: no Ray, no Ray storage, and no MLflow
store, run or experiment (a sqlite file that is not there is not opened).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from trainables.config import option_value

from .optuna_study import finished_in_study, storage_url
from .ray_session import storage_root
from .records import SweepRecord, check_tracking, find_parent, sqlite_file, trial_key
from .search import grid_points, swept_options, with_absolute_paths
from .spec import Distribution, SweepSpec

_ABSENT = object()


@dataclass
class PlannedTrial:
    key: str  # the trial key its MLflow run is found by
    setting: dict[str, Any]  # the swept options' values (search axes and variants)
    finished: bool  # FINISHED in MLflow already: `run` skips it


@dataclass
class SweepPlan:
    name: str
    algorithm: str
    total: int  # trials in the sweep, finished ones included
    finished: int  # of them, FINISHED already: in MLflow (grid) or in the Optuna study; random search: 0
    trials: list[PlannedTrial] = field(default_factory=list)  # a grid's trials; empty for a sampled search
    sampled: dict[str, str] = field(default_factory=dict)  # a sampled search's axes: option -> range
    store: str = ""  # what was found in MLflow, in words

    @property
    def to_run(self) -> int:
        return self.total - self.finished

    def per_value(self) -> dict[str, list[tuple[Any, int, int]]]:
        """For each swept option, each value with its trials to run and its trials skipped."""
        table: dict[str, list[tuple[Any, int, int]]] = {}
        for option in dict.fromkeys(key for trial in self.trials for key in trial.setting):
            run, skipped = Counter[str](), Counter[str]()
            values: dict[str, Any] = {}
            for trial in self.trials:
                value = trial.setting.get(option)
                values[repr(value)] = value
                (skipped if trial.finished else run)[repr(value)] += 1
            table[option] = [(value, run[text], skipped[text]) for text, value in values.items()]
        return table


def setting_of(spec: SweepSpec, point: dict[str, Any]) -> dict[str, Any]:
    """The options a trial's config sets that the sweep varies: its search axes, then its variant's keys."""
    values = {key: option_value(point, key, _ABSENT) for key in swept_options(spec)}
    return {key: value for key, value in values.items() if value is not _ABSENT}


def _variant_of(spec: SweepSpec, number: int) -> dict[str, Any]:
    """Which variant the grid's trial ``number`` belongs to, for counting; {} without variants.
    ``grid_points`` lists each variant's points in turn, the black-box surrogate last."""
    if not spec.variants:
        return {}
    per_variant = math.prod(len(axis) for axis in spec.search.values() if isinstance(axis, list))
    if number >= per_variant * len(spec.variants):
        return {"variant": "black-box surrogate"}
    index = number // per_variant
    options = " ".join(f"{k}={v}" for k, v in spec.variants[index].items())
    return {"variant": f"{index + 1} ({options or 'the trainable as given'})"}


def plan_sweep(spec: SweepSpec, tracking_uri: str) -> SweepPlan:
    """The sweep's trials, and which of them ``run`` would skip as FINISHED in the store at
    ``tracking_uri``."""
    spec = with_absolute_paths(spec)  # as `run` does: a trial key covers the data's path
    finished, store = _finished_keys(spec.name, tracking_uri)
    settings = spec.tune
    if settings.algorithm == "grid":
        points = grid_points(spec)
        trials = [
            PlannedTrial(key, {**_variant_of(spec, number), **setting_of(spec, point)}, key in finished)
            for number, point in enumerate(points)
            for key in [trial_key(point)]
        ]
        done = sum(trial.finished for trial in trials)
        return SweepPlan(spec.name, "grid", len(trials), done, trials, store=store)
    grid = 1
    sampled: dict[str, str] = {}
    for option, axis in spec.search.items():
        if isinstance(axis, Distribution):
            sampled[option] = f"{axis.kind} {list(axis.choice or getattr(axis, axis.kind))}"
        else:  # a list: every value for each sample (random search), a categorical choice (Optuna)
            sampled[option] = f"{'grid' if settings.algorithm == 'random' else 'choice'} {axis}"
            grid *= len(axis) if settings.algorithm == "random" else 1
    done = 0
    if settings.algorithm == "optuna":  # a stored study: `run` asks only for the trials it still lacks
        url = storage_url(spec, tracking_uri, storage_root(None))
        done = min(finished_in_study(spec.name, url) or 0, settings.num_samples)
        store += f"; Optuna study at {url}: {done} trials ended"
    total = settings.num_samples * grid
    return SweepPlan(spec.name, settings.algorithm, total, done, sampled=sampled, store=store)


def _finished_keys(name: str, tracking_uri: str) -> tuple[set[str], str]:
    """The trial keys FINISHED in the sweep's MLflow record, read only; a store not there is not created."""
    database = sqlite_file(tracking_uri)
    if database is not None and not database.exists():
        return set(), f"no MLflow store at {database} yet: every trial runs"
    client = check_tracking(tracking_uri)
    if find_parent(client, name) is None:
        return set(), f"no sweep {name!r} in {tracking_uri} yet: every trial runs"
    keys = SweepRecord.find(client, name).finished_keys()
    return keys, f"sweep {name!r} in {tracking_uri}: {len(keys)} trials FINISHED"


def concurrency(spec: SweepSpec) -> str:
    """How many trials run at once on a local Ray here, in words (a cluster's own size decides there)."""
    cpus = os.cpu_count() or 1
    fit = max(1, int(cpus // spec.resources.cpu))
    limit = spec.tune.max_concurrent_trials
    at_once = min(fit, limit) if limit else fit
    return f"{at_once} at a time on a local Ray here ({cpus} CPUs" + (
        f", max_concurrent_trials {limit})" if limit else ")"
    )


def render_plan(plan: SweepPlan, spec: SweepSpec, shown: int = 40) -> list[Table]:
    """The plan as tables: the counts and resources, the trials per swept value, then the trials."""
    gpu = spec.resources.gpu
    overview = Table(
        title=f"plan for sweep {plan.name} (dry run: nothing is started or written)", show_header=False
    )
    rows = [
        ("algorithm", plan.algorithm + ("" if spec.tune.scheduler == "none" else f", {spec.tune.scheduler}")),
        ("trials in the sweep", str(plan.total)),
        (
            "already FINISHED, skipped",
            str(plan.finished) if plan.algorithm != "random" else "none (random search runs every sample)",
        ),
        ("trials `run` starts", str(plan.to_run)),
        ("epochs per trial", "an axis" if "epochs" in spec.search else str(spec.trainable.epochs)),
        (
            "resources per trial",
            f"{spec.resources.cpu:g} CPU, "
            + (
                "1 GPU where the cluster has GPUs, else none (auto)"
                if gpu == "auto"
                else f"{float(gpu):g} GPU"
            ),
        ),
        ("concurrency", concurrency(spec)),
        ("MLflow", plan.store),
    ]
    for key, value in rows:
        overview.add_row(key, value)
    tables = [overview]
    if plan.sampled:
        axes = Table(title="sampled axes")
        axes.add_column("option")
        axes.add_column("values")
        for option, described in plan.sampled.items():
            axes.add_row(option, described)
        tables.append(axes)
    per_value = plan.per_value()
    if per_value:
        counts = Table(title="trials per swept value")
        for column in ("option", "value", "to run", "skipped"):
            counts.add_column(column, justify="right" if column in ("to run", "skipped") else "left")
        for option, counted in per_value.items():
            for value, run, skipped in counted:
                counts.add_row(option, str(value), str(run), str(skipped))
        tables.append(counts)
    if plan.trials:
        listing = Table(title=f"trials ({min(shown, len(plan.trials))} of {len(plan.trials)} shown)")
        for column in ("#", "trial key", "setting", "in MLflow"):
            listing.add_column(column)
        for number, trial in enumerate(plan.trials[:shown], 1):
            setting = " ".join(f"{key}={value}" for key, value in trial.setting.items() if key != "variant")
            if "variant" in trial.setting:
                setting = f"variant {trial.setting['variant'].split(' ')[0]}: {setting}"
            listing.add_row(
                str(number), trial.key[:8], setting, "FINISHED, skipped" if trial.finished else "to run"
            )
        tables.append(listing)
    return tables
