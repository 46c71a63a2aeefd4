"""A sweep spec, turned into Ray Tune's search space, search algorithm and scheduler."""

from __future__ import annotations

import logging
from typing import Any

from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher
from ray.tune.search.basic_variant import BasicVariantGenerator

from .spec import Distribution, SweepSpec, grid_points


def _sampler(value: Distribution) -> Any:
    kind = value.kind
    if kind == "choice":
        return tune.choice(value.choice)
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
        logging.getLogger("ray.tune.search.variant_generator").setLevel(logging.ERROR)
        return space
    for key, value in spec.search.items():
        if isinstance(value, Distribution):
            space[key] = _sampler(value)
        elif spec.tune.algorithm == "optuna":  # Optuna has no grid: a list is a categorical choice
            space[key] = tune.choice(value)
        else:
            space[key] = tune.grid_search(value)
    return space


def searcher(spec: SweepSpec, skip: set[str] | None = None, key: Any = None) -> tuple[Searcher | BasicVariantGenerator, int]:
    """The search algorithm and the number of trials it will propose.

    A grid is expanded here rather than with ``tune.grid_search`` so that trials
    already FINISHED in MLflow (``skip``, by trial key) are not run again.
    """
    settings = spec.tune
    # Tune's `max_concurrent_trials` is ignored (with a warning) for a generator passed as `search_alg`,
    # so the limit goes to the generator itself; Optuna's searcher gets it from the TuneConfig.
    limit = settings.max_concurrent_trials or 0
    if settings.algorithm == "grid":
        points = [p for p in grid_points(spec) if not skip or key(p) not in skip]
        return BasicVariantGenerator(points_to_evaluate=points, max_concurrent=limit), len(points)
    if settings.algorithm == "optuna":
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        return OptunaSearch(sampler=optuna.samplers.TPESampler(seed=settings.seed)), settings.num_samples
    grid_size = 1
    for value in spec.search.values():
        if isinstance(value, list):
            grid_size *= len(value)
    return BasicVariantGenerator(random_state=settings.seed, max_concurrent=limit), settings.num_samples * grid_size


def scheduler(spec: SweepSpec) -> TrialScheduler:
    settings = spec.tune
    if settings.scheduler == "asha":
        epochs = spec.search.get("epochs")
        max_t = max(epochs) if isinstance(epochs, list) else spec.trainable.epochs
        return ASHAScheduler(time_attr="epoch", max_t=max_t, grace_period=settings.grace_period, reduction_factor=settings.reduction_factor)
    return FIFOScheduler()
