"""A sweep file, read and validated with pydantic before anything runs: ``load_spec`` gives a ``SweepSpec``.

    name: quickstart                    # sweep name: MLflow parent run and Ray experiment
    trainable: {dataset: digits, model: mlp, epochs: 30, ...}   # trainables.TrainConfig
    search: {alpha: [0, 0.2, 1, 4], optimizer.lr: {loguniform: [0.01, 0.3]}}  # a grid axis; a distribution
    variants: [{alpha: 0}, {dropout: 0.7}]   # optional, grid only: settings that are not a product
    tune: {algorithm: grid, scheduler: none, max_failures: 1}
    resources: {cpu: 1, gpu: auto}

Every key is in docs/sweep-files.md. Every problem is one ``SpecError`` line: ``FILE: KEY: what is allowed``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from trainables import ConfigError, TrainConfig, option_names
from trainables.config import check_option_types, flatten, is_option_name, unflatten

from .records.names import CLASSIFIER_OBJECTIVES, GAN_OBJECTIVES
from .selection import resolve_objective

# analyses that `analyze` knows
STUDIES = (
    "bias_variance",
    "label_noise",
    "adversarial",
    "in_between",
    "uci",
    "variants",
    "speech",
    "cifar",
    "imagenet",
    "gan",
    "regularisers",
    "generic",
)
METRICS = CLASSIFIER_OBJECTIVES + GAN_OBJECTIVES
_TRAIN_CONFIG = pydantic.TypeAdapter(TrainConfig)
# Numbers as numbers: pydantic's lax mode would take `true` for 1 and
# "5" for 5 (an int still passes for a float).
StrictInt = Annotated[int, Strict()]
StrictFloat = Annotated[float, Strict()]


class SpecError(ValueError):
    """A sweep file or override is invalid; the message is one line."""


class Distribution(BaseModel):
    """Exactly one of these, for random search and Optuna."""

    model_config = ConfigDict(extra="forbid")
    uniform: tuple[StrictFloat, StrictFloat] | None = None
    loguniform: tuple[StrictFloat, StrictFloat] | None = None
    randint: tuple[StrictInt, StrictInt] | None = None  # low inclusive, high exclusive, as in Ray
    choice: list[Any] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Distribution:
        given = [name for name, value in self if value is not None]
        if len(given) != 1:
            raise ValueError("a distribution is exactly one of uniform, loguniform, randint, choice")
        kind = given[0]
        if kind != "choice":
            low, high = getattr(self, kind)
            if not (math.isfinite(low) and math.isfinite(high) and low < high):
                raise ValueError(f"{kind} needs finite low < high; got [{low}, {high}]")
            if kind == "loguniform" and low <= 0:
                raise ValueError(f"loguniform needs low > 0; got {low}")
        elif not self.choice:
            raise ValueError("choice needs at least one value")
        return self

    @property
    def kind(self) -> str:
        return next(name for name, value in self if value is not None)

    def values_to_check(self) -> list[Any]:
        """Values whose validity stands for the whole range."""
        if self.choice is not None:
            return list(self.choice)
        low, high = getattr(self, self.kind)
        return [low, high - 1 if self.kind == "randint" else high]


class TuneSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    algorithm: Literal["grid", "random", "optuna"] = "grid"
    # random/optuna: trials (times the grid axes); grid: 1
    num_samples: int = Field(1, ge=1, le=100_000, strict=True)
    # left out: val_error where the sweep chooses (optuna, asha) or holds out a validation split, else
    # test_error (mixup_tune.selection)
    metric: Literal[METRICS] = "test_error"  # type: ignore[valid-type]
    mode: Literal["min", "max"] = "min"
    scheduler: Literal["none", "asha"] = "none"
    grace_period: int = Field(1, ge=1, strict=True)  # ASHA: epochs before a trial may be stopped
    reduction_factor: float = Field(3, gt=1, strict=True)  # ASHA: halving rate
    max_concurrent_trials: StrictInt | None = Field(None, ge=1)
    max_failures: int = Field(1, ge=-1, strict=True)  # retries of a failed trial; -1 retries forever
    # seconds between checkpoints (0: every epoch); always one at the end
    checkpoint_interval_s: float = Field(30, ge=0, strict=True)
    keep_checkpoints: int = Field(2, ge=1, strict=True)  # checkpoints kept per trial
    seed: int = Field(0, ge=0, strict=True)  # seeds random search and Optuna's sampler
    # optuna: the study's storage URL (sqlite:///..., postgresql://...); default: optuna.db beside the
    # MLflow sqlite store, else in Ray's storage (mixup_tune.optuna_study)
    optuna_storage: str | None = Field(None, pattern=r"^[a-z][a-z0-9+]*://")

    @model_validator(mode="after")
    def _storage_for_optuna(self) -> TuneSettings:
        if self.optuna_storage is not None and self.algorithm != "optuna":
            raise ValueError("optuna_storage is for tune.algorithm optuna")
        return self


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cpu: float = Field(1, gt=0, strict=True)  # CPUs per trial
    gpu: Any = "auto"  # GPUs per trial, fractional allowed; auto: 1 when the cluster has GPUs

    @field_validator("gpu", mode="before")
    @classmethod
    def _gpu_range(cls, value: Any) -> float | str:
        if value == "auto":
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 64:
            raise ValueError(f"must be auto or a number of GPUs in [0, 64]; got {value!r}")
        return float(value)


class BlackBox(BaseModel):
    """Section 3.5's black-box attack: examples crafted on a separate ERM surrogate, tested on every other
    model."""

    model_config = ConfigDict(extra="forbid")
    # options of the extra surrogate trial
    surrogate: dict[str, Any] = Field(default_factory=lambda: {"alpha": 0, "seed": 1000})
    epsilon: StrictFloat | None = Field(None, gt=0, le=1)  # default: the surrogate's adversarial_epsilon


SearchValue = list[Any] | Distribution


class SweepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    experiment: str | None = None
    study: Literal[STUDIES] = "generic"  # type: ignore[valid-type]
    description: str = ""
    trainable: TrainConfig = Field(default_factory=TrainConfig)
    search: dict[str, SearchValue] = Field(default_factory=dict)
    variants: list[dict[str, Any]] = Field(default_factory=list)
    black_box: BlackBox | None = None  # adds the surrogate trial; evaluated after the sweep
    # log each trial's final weights as an MLflow artifact (implied by black_box)
    log_models: bool = Field(False, strict=True)
    tune: TuneSettings = Field(default_factory=TuneSettings)
    resources: Resources = Field(default_factory=Resources)
    # modules or .py files imported on the driver and in every Ray worker before the trials are built, so
    # that what they register (mixing methods, models, datasets) can be named (docs/plugins.md)
    plugins: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _strict_option_types(cls, document: Any) -> Any:
        """Trainable options as written, before pydantic's lax mode coerces them: ``epochs: true`` is not 1
        epoch."""
        if not isinstance(document, dict):
            return document
        if "evaluation" in document:  # shorthand for trainable.evaluation: what every trial measures
            document = dict(document)
            evaluation = document.pop("evaluation")
            trainable = document.get("trainable") or {}
            if not isinstance(trainable, dict) or "evaluation" in trainable:
                raise ConfigError("evaluation", "set it once: evaluation or trainable.evaluation")
            document["trainable"] = {**trainable, "evaluation": evaluation}
        candidates: list[tuple[str, dict[str, Any]]] = []
        if isinstance(document.get("trainable"), dict):
            candidates.append(("trainable.", document["trainable"]))
        for key, value in (
            (document.get("search") or {}).items() if isinstance(document.get("search"), dict) else ()
        ):
            values = value.get("choice") if isinstance(value, dict) else value
            for index, candidate in enumerate(values if isinstance(values, (list, tuple)) else []):
                candidates.append((f"search.{key}[{index}]:", {key: candidate}))
        for index, variant in (
            enumerate(document.get("variants") or []) if isinstance(document.get("variants"), list) else ()
        ):
            candidates.append((f"variants[{index}].", variant if isinstance(variant, dict) else {}))
        black_box = document.get("black_box")
        if isinstance(black_box, dict) and isinstance(black_box.get("surrogate"), dict):
            candidates.append(("black_box.surrogate.", black_box["surrogate"]))
        for where, values in candidates:
            try:
                check_option_types(TrainConfig, values)
            except ConfigError as error:
                raise ConfigError(
                    where.removesuffix(":") if where.endswith(":") else f"{where}{error.field}", error.message
                ) from None
        return document

    @field_validator("search", mode="before")
    @classmethod
    def _search_values(cls, search: Any) -> Any:
        """A list is a grid axis, a mapping a distribution; say which was meant when neither fits."""
        if not isinstance(search, dict):
            return search
        parsed: dict[str, Any] = {}
        for key, value in search.items():
            if isinstance(value, dict):
                try:
                    parsed[key] = Distribution.model_validate(value)
                except pydantic.ValidationError as error:
                    raise ConfigError(str(key), _first_error(error, with_key=False)) from None
            elif isinstance(value, (list, tuple)):
                parsed[key] = list(value)
            else:
                raise ConfigError(
                    str(key),
                    f"must be a list (a grid axis) or a distribution such as {{uniform: [0, 1]}}; got "
                    f"{value!r}",
                )
        return parsed

    @property
    def logs_models(self) -> bool:
        return self.log_models or self.black_box is not None or self.study == "in_between"

    @property
    def experiment_name(self) -> str:
        return self.experiment or f"mixup-{self.name}"

    @model_validator(mode="after")
    def _check_search(self) -> SweepSpec:
        if self.tune.algorithm == "grid" and self.tune.num_samples != 1:
            raise ConfigError(
                "tune.num_samples",
                "must be 1 for a grid (repeats would be identical trials); add a seed axis instead",
            )
        gan = self.trainable.task == "gan"
        # a GAN reports no test error: its default is the distance
        if gan and "metric" not in self.tune.model_fields_set:
            self.tune.metric, self.tune.mode = "sample_distance", "min"
        if (self.tune.metric in GAN_OBJECTIVES) != gan:
            allowed = GAN_OBJECTIVES if gan else CLASSIFIER_OBJECTIVES
            raise ConfigError(
                "tune.metric",
                f"a {self.trainable.task} trial reports {', '.join(allowed)}; got {self.tune.metric}",
            )
        if "task" in self.search or any("task" in variant for variant in self.variants):
            raise ConfigError("task", "is one per sweep: set trainable.task, not a search axis or variant")
        if self.study == "gan" and not gan:
            raise ConfigError("study", "gan needs trainable.task: gan")
        if gan and (self.log_models or self.black_box is not None or self.study == "in_between"):
            raise ConfigError(
                "log_models" if self.black_box is None else "black_box",
                "evaluates a classifier's weights; a gan trial logs its samples instead",
            )
        if not gan:  # the objective, and the validation split a chooser needs (mixup_tune.selection)
            resolve_objective(self)
        known = sorted(option_names())
        base = self.trainable.flat()
        if self.variants and self.tune.algorithm != "grid":
            raise ConfigError("variants", "need tune.algorithm grid")
        if self.black_box is not None:
            if self.tune.algorithm != "grid":
                raise ConfigError("black_box", "needs tune.algorithm grid")
            if "dataset" in self.search:
                raise ConfigError("black_box", "needs one dataset for all trials (dataset is a search axis)")
            for key in self.black_box.surrogate:
                if not is_option_name(key):
                    raise ConfigError(
                        f"black_box.surrogate.{key}", f"unknown option; options: {', '.join(known)}"
                    )
            try:
                _TRAIN_CONFIG.validate_python(unflatten({**base, **self.black_box.surrogate}))
            except pydantic.ValidationError as error:
                raise ConfigError("black_box.surrogate", _first_error(error, with_key=True)) from None
        for index, variant in enumerate(self.variants):
            for key in variant:
                if not is_option_name(key):
                    raise ConfigError(
                        f"variants[{index}].{key}", f"unknown option; options: {', '.join(known)}"
                    )
                if key in self.search:
                    raise ConfigError(
                        f"variants[{index}].{key}", "is also a search axis; set it in one place"
                    )
            try:
                _TRAIN_CONFIG.validate_python(unflatten({**base, **variant}))
            except pydantic.ValidationError as error:
                raise ConfigError(f"variants[{index}]", _first_error(error, with_key=True)) from None
        if self.tune.algorithm == "grid":
            _check_list_lengths(base, self.variants, self.search)
        for key, value in self.search.items():
            if not is_option_name(key):
                raise ConfigError(f"search.{key}", f"unknown option; options: {', '.join(known)}")
            if isinstance(value, list) and not value:
                raise ConfigError(f"search.{key}", "a grid axis needs at least one value")
            if self.tune.algorithm == "grid" and isinstance(value, Distribution):
                raise ConfigError(
                    f"search.{key}",
                    "a distribution needs tune.algorithm random or optuna; use a list for a grid",
                )
            candidates = value if isinstance(value, list) else value.values_to_check()
            for index, candidate in enumerate(candidates):
                # with each variant it is crossed with (mix.scope is an option of the variants' method)
                for variant in self.variants or [{}]:
                    try:
                        _TRAIN_CONFIG.validate_python(unflatten({**base, **flatten(variant), key: candidate}))
                    except pydantic.ValidationError as error:
                        where = f"search.{key}[{index}]" + (
                            f" with variant {variant}" if self.variants else ""
                        )
                        raise ConfigError(where, _first_error(error, with_key=False)) from None
        return self


def _check_list_lengths(base: dict[str, Any], variants: list[dict[str, Any]], search: dict[str, Any]) -> None:
    """A list option (``hidden_sizes``, ``mix.scope``) keeps one length across a grid: Ray Tune's grid sets a
    list item by item, and cannot add or drop one."""
    settings = [base, *(flatten(variant) for variant in variants)]
    for key, values in search.items():
        if isinstance(values, list):
            settings += [{key: value} for value in values]
    for key in {
        key for setting in settings for key, value in setting.items() if isinstance(value, (list, tuple))
    }:
        lengths = {len(s[key]) for s in settings if isinstance(s.get(key), (list, tuple))}
        if len(lengths) > 1:
            raise ConfigError(
                key,
                f"a grid's lists must keep one length (Ray Tune sets them item by item); got lengths "
                f"{sorted(lengths)}: run one sweep per length",
            )


def load_spec(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> SweepSpec:
    """Read, override and validate a sweep file; raise SpecError with one line naming the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such sweep file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: cannot read sweep file ({type(error).__name__})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise SpecError(f"{path}: {where}YAML syntax error: {problem}") from None
    if document is None:
        raise SpecError(f"{path}: the sweep file is empty")
    if not isinstance(document, dict):
        raise SpecError(
            f"{path}: a sweep file is a mapping of keys (name, trainable, search, ...); got "
            f"{type(document).__name__}"
        )
    for override in overrides:
        apply_override(document, override)
    return validate_spec(document, source=str(path), folder=path.resolve().parent)


def apply_override(document: dict[str, Any], override: str) -> None:
    """``key=value`` with a dotted key; the value is parsed as YAML (``[0, 1]``, ``0.1``, ``true``).

    A bare trainable option (``epochs=2``) means ``search.epochs`` when the
    sweep has that axis and ``trainable.epochs`` otherwise.
    """
    key, sep, raw = override.partition("=")
    if not sep or not key:
        raise SpecError(f"--set {override!r}: expected key=value")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise SpecError(f"--set {key}: cannot parse value {raw!r}") from None
    top = key.split(".")[0]
    if top not in SweepSpec.model_fields:
        if not is_option_name(key):
            raise SpecError(
                f"--set {key}: unknown key; use a spec key (name, trainable.epochs, search.alpha, ...) or a "
                "trainable option"
            )
        key = f"search.{key}" if key in (document.get("search") or {}) else f"trainable.{key}"
    node = document
    parts = key.split(".")
    if parts[0] == "search":  # search keys are themselves dotted (optimizer.lr)
        parts = ["search", ".".join(parts[1:])] if len(parts) > 1 else parts
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise SpecError(f"--set {key}: {part} is not a mapping")
        node = child
    node[parts[-1]] = value


def validate_spec(document: dict[str, Any], source: str = "<spec>", folder: Path | None = None) -> SweepSpec:
    """The spec ``document`` validated, its plugins imported first (what they register may be named in it);
    a .py plugin's relative path is taken from the working directory, else from ``folder``."""
    document = {**document, "plugins": _import_plugins(document.get("plugins"), source, folder)}
    try:
        return SweepSpec.model_validate(document)
    except pydantic.ValidationError as error:
        raise SpecError(f"{source}: {_first_error(error, with_key=True)}") from None
    except ConfigError as error:  # raised directly by _check_search
        raise SpecError(f"{source}: {error}") from None


def _import_plugins(plugins: Any, source: str, folder: Path | None) -> list[str]:
    """The spec's plugins, .py paths made absolute, each imported (with the installed packages' plugins)."""
    from trainables.plugins import PluginError, entry_point_plugins, is_file_plugin, load_plugins

    if plugins is None:
        plugins = []
    if not isinstance(plugins, list) or not all(isinstance(item, str) and item for item in plugins):
        raise SpecError(f"{source}: plugins: must be a list of module names or .py files; got {plugins!r}")
    resolved = []
    for item in plugins:
        path = Path(item).expanduser()
        if is_file_plugin(item) and not path.is_absolute():
            beside = folder / path if folder is not None else path
            path = path.resolve() if path.exists() or not beside.exists() else beside.resolve()
        resolved.append(str(path) if is_file_plugin(item) else item)
    try:
        load_plugins([*entry_point_plugins(), *resolved])
    except PluginError as error:
        raise SpecError(f"{source}: plugins: {error}") from None
    return resolved


_STRICT_TYPES = {
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
}


def _first_error(error: pydantic.ValidationError, with_key: bool) -> str:
    """One line for the first problem: the dotted key, then what is allowed."""
    first = error.errors()[0]
    cause = first.get("ctx", {}).get("error")
    loc = [
        str(part) for part in first["loc"] if not str(part).startswith(("function-", "list[", "Distribution"))
    ]
    if isinstance(cause, ConfigError):
        field = cause.field.split(".")
        while loc and field and loc[-1] == field[0]:  # nested dataclasses name their own prefix
            loc.pop()
        key = ".".join([*loc, *field])
        return f"{key}: {cause.message}" if with_key else cause.message
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
        message = "unknown key"
    elif first["type"] == "missing" or first["type"] == "missing_argument":
        message = "required key is missing"
    elif first["type"] in _STRICT_TYPES:
        message = _STRICT_TYPES[first["type"]]
    elif first["type"] == "literal_error":
        message = f"must be {first['msg'].removeprefix('Input should be ')}"
    if "input" in first and first["type"] not in (
        "unexpected_keyword_argument",
        "extra_forbidden",
        "missing",
        "value_error",
    ):
        message += f" (got {repr(first['input'])[:60]})"
    key = ".".join(loc)
    return f"{key}: {message}" if with_key and key else message
