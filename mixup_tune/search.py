"""A sweep spec, turned into its trials' configs and into Ray Tune's search space, search algorithm, scheduler
and progress table."""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher
from ray.tune.search.basic_variant import BasicVariantGenerator

from trainables import TrainConfig
from trainables.config import PLUGIN_VERSIONS, OptionGroup, flatten, grouped
from trainables.plugins import loaded_plugins, provenance

from .records.store import swept_in
from .spec import Distribution, SweepSpec

# what trainables.load_data is given
_DATA_OPTIONS = (
    "dataset",
    "data_root",
    "data_path",
    "train_subset",
    "val_fraction",
    "download",
    "label_column",
    "split_column",
    "test_subset",
)


_PATH_OPTIONS = ("data_root", "data_path")


def with_absolute_paths(spec: SweepSpec) -> SweepSpec:
    """Trials run in their own working directory: make user paths absolute first, wherever the spec gives
    them.

    The spec is valid already, and an absolute path is as valid as the relative
    one it replaces, so the copy is not validated again.
    """
    trainable = dataclasses.replace(
        spec.trainable,
        data_root=_absolute(spec.trainable.data_root),
        data_path=_absolute(spec.trainable.data_path),
    )
    search = {
        key: [_absolute(path) for path in value]
        if key in _PATH_OPTIONS and isinstance(value, list)
        else value
        for key, value in spec.search.items()
    }
    variants = [
        {key: _absolute(value) if key in _PATH_OPTIONS else value for key, value in variant.items()}
        for variant in spec.variants
    ]
    return spec.model_copy(update={"trainable": trainable, "search": search, "variants": variants})


def _absolute(path: Any) -> Any:
    """A path given as a non-empty string, made absolute; any other value (None, a number on an axis) as it
    is."""
    return str(Path(path).expanduser().resolve()) if isinstance(path, str) and path else path


def grid_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """The grid's trials as flat configs: every variant crossed with the search axes, the last axis varying
    fastest."""
    base = spec.trainable.flat()
    axes = list(spec.search.items())
    points = [dict(zip([k for k, _ in axes], combo)) for combo in itertools.product(*[v for _, v in axes])]
    grid = [
        _as_leaves({**base, **flatten(variant), **point})
        for variant in (spec.variants or [{}])
        for point in points
    ]
    if loaded_plugins():  # each trial says which plugin code it runs, as it was when the trial was made
        for point in grid:
            point[PLUGIN_VERSIONS] = OptionGroup(provenance(TrainConfig.from_dict(point)))
    surrogate = surrogate_point(spec)
    return grid + [surrogate] if surrogate is not None and surrogate not in grid else grid


def _as_leaves(point: dict[str, Any]) -> dict[str, Any]:
    """A flat point as Ray Tune must be given it: lists (``hidden_sizes``) as tuples, and the options of
    ``mix`` and ``model_options`` as one value each (``OptionGroup``): Ray reads a list or a dict as more
    config, and fills a key a point lacks with the search space's value."""
    leaves = {key: tuple(value) if isinstance(value, list) else value for key, value in point.items()}
    return grouped(leaves)


def surrogate_point(spec: SweepSpec) -> dict[str, Any] | None:
    """The black-box surrogate's flat config: the base trainable with the surrogate's options."""
    return None if spec.black_box is None else {**spec.trainable.flat(), **spec.black_box.surrogate}


def data_settings(spec: SweepSpec) -> list[dict[str, Any]]:
    """Each distinct set of data options (``_DATA_OPTIONS``) that the sweep's trials can have: the grid's,
    or for random search and Optuna those of the data axes given as lists or choices."""
    if spec.tune.algorithm == "grid":
        points = grid_points(spec)
    else:
        base = spec.trainable.flat()
        axes: dict[str, list[Any]] = {}
        for key, value in spec.search.items():
            values = value if isinstance(value, list) else value.choice
            if key in _DATA_OPTIONS and values is not None:
                axes[key] = values
        points = [{**base, **dict(zip(axes, combo))} for combo in itertools.product(*axes.values())]
    settings = {tuple(point.get(key) for key in _DATA_OPTIONS): None for point in points}
    return [dict(zip(_DATA_OPTIONS, setting)) for setting in settings]


def option_values(spec: SweepSpec, option: str) -> list[Any]:
    """Every value a trainable option takes in the sweep: the trainable's, the variants', and a search
    axis's (for a distribution, the values that stand for its range)."""
    values = [getattr(spec.trainable, option)]
    values += [variant[option] for variant in spec.variants if option in variant]
    axis = spec.search.get(option)
    if axis is not None:
        values += axis if isinstance(axis, list) else axis.values_to_check()
    return values


def mixing_methods(spec: SweepSpec) -> set[str]:
    """Every mixing method the sweep's trials name, as ``mix_method`` or as ``mix.method``."""
    names = set(option_values(spec, "mix_method")) | {spec.trainable.mix_method_name}
    for variant in spec.variants:
        nested = variant.get("mix")
        names |= {nested.get("method")} if isinstance(nested, dict) else set()
        names |= {variant["mix.method"]} if "mix.method" in variant else set()
    axis = spec.search.get("mix.method")
    if axis is not None:
        names |= set(axis if isinstance(axis, list) else axis.values_to_check())
    return {name for name in names if isinstance(name, str)}


def _sampler(value: Distribution) -> Any:
    kind = value.kind
    if kind == "choice":
        return tune.choice(value.choice or [])  # a choice distribution always lists its values
    low, high = getattr(value, kind)
    return {"uniform": tune.uniform, "loguniform": tune.loguniform, "randint": tune.randint}[kind](low, high)


def param_space(spec: SweepSpec) -> dict[str, Any]:
    """Flat config (dotted keys). A grid sweep passes its points to the searcher instead.

    Ray requires each point's keys in this space, and warns for every point that
    differs from the space's value ("Pre-set value ... is not equal to ..."):
    for a grid that is every point, by design, so those warnings are silenced.
    """
    space: dict[str, Any] = spec.trainable.flat()
    if spec.tune.algorithm == "grid":
        space = _as_leaves(space)
        logging.getLogger("ray.tune.search.variant_generator").setLevel(logging.ERROR)
        # flat() leaves out options at defaults older trial ids never had (TrainConfig.flat); a point that
        # sets one still needs it in the space, where the trainable's own value stands for the others
        defaults = flatten(spec.trainable.to_dict())
        points = grid_points(spec)
        for point in points:
            for key in point.keys() - space.keys():
                space[key] = defaults.get(key)
        for key in {key for point in points for key, value in point.items() if isinstance(value, tuple)}:
            space[key] = _positions(key, [point[key] for point in points])
        return space
    for key, value in spec.search.items():
        if isinstance(value, Distribution):
            space[key] = _sampler(value)
        elif spec.tune.algorithm == "optuna":  # Optuna has no grid: a list is a categorical choice
            space[key] = tune.choice(value)
        else:
            space[key] = tune.grid_search(value)
    return space


def _positions(key: str, values: list[Any]) -> Any:
    """A list option's place in a grid's space: one choice per position, of the values the points give
    there. Ray checks each point's list item by item against the space, and words its warning for an item
    that differs with a path it cannot join (ray 2.60); a choice holding the item is no difference. The
    points set every item, so nothing is drawn from these choices. (The spec refuses lengths that vary.)"""
    if not all(isinstance(value, tuple) for value in values) or len({len(v) for v in values}) != 1:
        return values[0]
    return tuple(
        tune.choice(list(dict.fromkeys(value[i] for value in values))) for i in range(len(values[0]))
    )


def searcher(
    spec: SweepSpec, skip: set[str], key: Callable[[dict[str, Any]], str], optuna_storage: str = ""
) -> tuple[Searcher | BasicVariantGenerator, int]:
    """The search algorithm and the number of trials it will propose.

    A grid is expanded here rather than with ``tune.grid_search`` so that trials
    already FINISHED in MLflow (``skip``, by trial key) are not run again. Optuna
    continues the study stored at ``optuna_storage`` (``optuna_study``).
    """
    settings = spec.tune
    # Tune's `max_concurrent_trials` is ignored (with a warning) for a generator passed as `search_alg`,
    # so the limit goes to the generator itself; Optuna's searcher gets it from the TuneConfig.
    limit = settings.max_concurrent_trials or 0
    if settings.algorithm == "grid":
        points = [p for p in grid_points(spec) if not skip or key(p) not in skip]
        return BasicVariantGenerator(points_to_evaluate=points, max_concurrent=limit), len(points)
    if settings.algorithm == "optuna":
        from .optuna_study import optuna_searcher

        return optuna_searcher(spec, optuna_storage)
    return BasicVariantGenerator(random_state=settings.seed, max_concurrent=limit), sweep_size(spec)


def sweep_size(spec: SweepSpec) -> int:
    """How many trials the sweep has in all, finished ones included: the grid's points; ``num_samples``
    draws times the grid axes (the options given as lists) for random search; ``num_samples`` for Optuna."""
    if spec.tune.algorithm == "grid":
        return len(grid_points(spec))
    grid_size = 1
    if spec.tune.algorithm == "random":
        for value in spec.search.values():
            if isinstance(value, list):
                grid_size *= len(value)
    return spec.tune.num_samples * grid_size


def scheduler(spec: SweepSpec) -> TrialScheduler:
    settings = spec.tune
    if settings.scheduler == "asha":
        epochs = spec.search.get("epochs")
        max_t = max(epochs) if isinstance(epochs, list) else spec.trainable.epochs
        return ASHAScheduler(
            time_attr="epoch",
            max_t=max_t,
            grace_period=settings.grace_period,
            reduction_factor=settings.reduction_factor,
        )
    return FIFOScheduler()


def swept_options(spec: SweepSpec) -> list[str]:
    """The options the sweep varies, which name a trial's setting: its search axes, then its variants'
    keys (the same rule as for a document read back from MLflow)."""
    return swept_in({"search": spec.search, "variants": spec.variants})
