"""The checks a sweep passes before anything is written: its data loaded once, the tracking store reached,
the trials' resources against what Ray has, with a local Ray started meanwhile.

Everything that can be wrong with the user's input is found here, before the
first MLflow run is created (``runner`` calls this first), so bad input leaves
nothing half-written.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

from mlflow.tracking import MlflowClient

from trainables import ConfigError, DatasetError, TrainConfig
from trainables.config import BUILTIN_MIX_METHODS

from .errors import UserError
from .provenance import runtime_env
from .ray_session import (
    RayStarted,
    check_cluster_fits,
    check_trials_fit,
    gpus_per_trial,
    start_local_ray_while,
)
from .records import check_tracking
from .search import data_settings, grid_points, mixing_methods, option_values
from .spec import SweepSpec

T = TypeVar("T")


def _corrupts(spec: SweepSpec) -> bool:
    """Whether any trial of the sweep corrupts its test images after its last epoch (``evaluation``)."""
    return (
        bool(spec.trainable.evaluation.corruptions)
        or "evaluation.corruptions" in spec.search
        or any(variant.get("evaluation.corruptions") for variant in spec.variants)
    )


def check_sweep_data(spec: SweepSpec) -> None:
    """Load every dataset setting the sweep names once, here: bad data fails before any run, and the trials
    find the cache filled."""
    import torch

    from trainables import load_data
    from trainables.augment import check_image_option
    from trainables.data import STREAMED

    if spec.trainable.task == "gan":  # toy distributions, drawn in the trial: no files
        return
    cutouts = sorted(set(option_values(spec, "cutout")) - {0})
    mixes = any(alpha > 0 for alpha in option_values(spec, "alpha"))
    cutmix = mixes and (
        "cutmix" in option_values(spec, "mix_method")
        or any(p > 0 for p in option_values(spec, "mix_switch_prob"))
    )
    image_methods = [
        name for name in mixing_methods(spec) if name not in BUILTIN_MIX_METHODS and _needs_images(name)
    ]
    corrupts = _corrupts(spec)
    for setting in data_settings(spec):
        try:
            if setting["dataset"] in STREAMED:  # too big to load here: list its files instead
                from trainables.data.streaming import scan

                scan(setting["data_path"] or "")
                continue
            splits = load_data(**setting)
            # what needs the data's shape: refused here, not in every trial
            for size in cutouts:
                check_image_option("cutout", splits.input_shape, splits.is_image, size)
            if cutmix:
                check_image_option("mix_method", splits.input_shape, splits.is_image, what="cutmix ")
            for name in image_methods:
                check_image_option("mix.method", splits.input_shape, splits.is_image, what=f"{name} ")
            if corrupts and not (splits.is_image and splits.x_test.dtype == torch.uint8):
                raise ConfigError(
                    "evaluation.corruptions", "corrupt images, and this dataset gives feature vectors"
                )
            for model, options in _ecosystem_models(spec, setting):
                check_model(model, options, splits.input_shape, splits.num_classes)
            for model, options in _manifold_models(spec, setting):
                check_manifold_layers(model, options, splits.input_shape, splits.num_classes)
        except DatasetError as error:
            raise UserError(str(error)) from None
        except ConfigError as error:
            raise UserError(f"{error} (dataset {setting['dataset']!r})") from None


def _ecosystem_models(spec: SweepSpec, data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The torchvision, timm and import-string models that trials on ``data`` (a data setting) build, with
    their ``model_options``: the grid's own pairs; for a sampled search every model with every options."""
    from trainables.models import is_ecosystem_name

    if spec.tune.algorithm == "grid":
        pairs: list[tuple[str, dict[str, Any]]] = []
        for point in grid_points(spec):
            if all(point.get(key) == value for key, value in data.items()) and is_ecosystem_name(
                point["model"]
            ):
                pair = (point["model"], dict(TrainConfig.from_dict(point).model_options))
                pairs += [pair] if pair not in pairs else []
        return pairs
    models = {
        name for name in option_values(spec, "model") if isinstance(name, str) and is_ecosystem_name(name)
    }
    options = [dict(value) for value in option_values(spec, "model_options") if isinstance(value, dict)]
    return [(model, option) for model in sorted(models) for option in options or [{}]]


def check_model(model: str, options: dict[str, Any], input_shape: tuple[int, ...], classes: int) -> None:
    """Build a torchvision, timm or import-string model and try it on two examples of the data's shape:
    wrong options or an input it cannot take are refused here, in one line, not in every trial."""
    from trainables.errors import first_line
    from trainables.models import build_model, forward_problem

    try:
        built = build_model(model, input_shape, classes, options=options)
    except (TypeError, ValueError) as error:
        raise ConfigError("model", f"{model}: {first_line(error)}") from None
    problem = forward_problem(built, input_shape, model)
    if problem:
        raise ConfigError("model", problem)


def _manifold_models(spec: SweepSpec, data: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The models that trials on ``data`` mix at hidden layers (manifold_mixup with alpha > 0), with their
    ``model_options``: the grid's own; for a sampled search every model, if any trial may mix so."""
    if "manifold_mixup" not in mixing_methods(spec):
        return []
    if spec.tune.algorithm == "grid":
        pairs: list[tuple[str, dict[str, Any]]] = []
        for point in grid_points(spec):
            config = TrainConfig.from_dict(point)
            if (
                config.mix_method_name == "manifold_mixup"
                and config.alpha > 0
                and all(point.get(key) == value for key, value in data.items())
            ):
                pair = (config.model, dict(config.model_options))
                pairs += [pair] if pair not in pairs else []
        return pairs
    if not any(alpha > 0 for alpha in option_values(spec, "alpha")):
        return []
    models = {name for name in option_values(spec, "model") if isinstance(name, str)}
    options = [dict(value) for value in option_values(spec, "model_options") if isinstance(value, dict)]
    return [(model, option) for model in sorted(models) for option in options or [{}]]


def check_manifold_layers(
    model: str, options: dict[str, Any], input_shape: tuple[int, ...], classes: int
) -> None:
    """Build ``model`` on the data's shape and ask it for the layers Manifold Mixup mixes at: one that names
    none is refused here, in one line, not in every trial. (Whether a model names them is known only once
    it is built: the registry's names carry no such list.)"""
    from trainables.models import build_model, manifold_layers

    try:
        manifold_layers(build_model(model, input_shape, classes, options=options), model)
    except ValueError as error:
        raise ConfigError("mix_method", f"manifold_mixup: {error}") from None


def _needs_images(method: str) -> bool:
    from trainables.mixing import MIX_METHODS

    return "images" in MIX_METHODS[method].needs


def check_while_ray_starts(
    spec: SweepSpec,
    tracking_uri: str,
    address: str | None,
    check_data: bool,
    claim: Callable[[MlflowClient], T],
    undo: Callable[[T], None] | None = None,
) -> T:
    """The data and store checks, with a local Ray started meanwhile, then ``claim`` of the opened store (the
    sweep's lease and record, which ``runner`` takes there to have its settling time pass while Ray starts);
    returns what ``claim`` returns. Should Ray fail to start after the claim, ``undo`` gets it back.

    Starting Ray takes ~3 s, half of it waiting on the processes it spawns;
    the checks (loading the data, opening or for a new sqlite file creating
    the store) take up to as long again, so they run side by side
    (``ray_session.start_local_ray_while``). The store is opened only once the
    data passed, and a tracking server is probed (well under a second) before
    Ray starts, so that bad input never creates a store. If the checks fail,
    the CLI stops Ray again, and no run has been created.
    """
    if address is not None:  # a cluster, joined before any check (its nodes load their own data)
        check_cluster_fits(spec.resources.cpu, gpus_per_trial(spec.resources.gpu), _say)
        return claim(check_tracking(tracking_uri))
    server = tracking_uri.startswith(("http://", "https://"))
    probed = check_tracking(tracking_uri) if server else None  # a dead server is refused before Ray starts
    # A local Ray knows all it will ever have: a trial asking for more than one CPU, or for GPUs, is checked
    # against it before the store is opened (one CPU always fits; `auto` GPUs are 0 where there are none).
    # A cluster may grow, so it is not refused this way.
    gpu = spec.resources.gpu
    may_not_fit = spec.resources.cpu > 1 or (gpu != "auto" and float(gpu) > 0)

    def fits() -> None:
        check_trials_fit(spec.resources.cpu, gpus_per_trial(gpu))

    def checks(ray_started: RayStarted) -> T | None:
        if check_data:
            check_sweep_data(spec)
        if may_not_fit and not ray_started.wait():
            return None  # refused on this thread's partner: nothing opened
        return claim(probed if probed is not None else check_tracking(tracking_uri))

    def undo_claim(claimed: T | None) -> None:
        if claimed is not None and undo is not None:
            undo(claimed)

    claimed = start_local_ray_while(
        checks, then=fits if may_not_fit else None, undo=undo_claim, runtime_env=runtime_env(spec)
    )
    assert claimed is not None  # start_local_ray_while raised had the check failed
    return claimed


def _say(line: str) -> None:
    print(f"mixup-tune: {line}", file=sys.stderr, flush=True)
