"""The checks of a trial's options that name code outside the option table: registered mixing methods and
metrics, models by name (torchvision, timm, import strings) and datasets read from a user's file. Those
that need a registry import it here, and only then (it imports torch; reading options must not)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..catalogue import DATASETS, MODELS
from ._checks import BUILTIN_MIX_METHODS, require

if TYPE_CHECKING:
    from ._train import TrainConfig


def check_model_and_data(self: TrainConfig) -> None:
    """The dataset and model names, a model's options, and a table's columns."""
    # The catalogue knows the built-ins' names without torch; a plugin's are in the same registries once it
    # is imported. Other model names (torchvision/, timm/, import strings) are checked by the models
    # package, imported only for them: it imports torch, and reading options (analysis) must not.
    require(self.dataset in DATASETS, "dataset", DATASETS.unknown(self.dataset))
    if self.model not in MODELS:
        from ..models import model_name_problem

        problem = model_name_problem(self.model)
        require(problem is None, "model", str(problem))
    require(isinstance(self.model_options, dict), "model_options", "must be a mapping of keyword options")
    if self.model_options or self.dropout:
        ecosystem = self.model.startswith(("torchvision/", "timm/")) or ":" in self.model
        require(
            ecosystem or not self.model_options,
            "model_options",
            f"are for torchvision/, timm/ and import-string models; {self.model!r} takes hidden_sizes "
            "and dropout",
        )
        require(
            not ecosystem or not self.dropout,
            "dropout",
            f"is for the registry's models; give {self.model} its own in model_options",
        )
    tabular_file = self.dataset in ("csv", "parquet")
    require(
        tabular_file or (self.label_column is None and self.split_column is None),
        "label_column" if self.label_column is not None else "split_column",
        "is for dataset csv or parquet",
    )
    require(
        not tabular_file or bool(self.label_column),
        "label_column",
        f"is required for dataset {self.dataset!r}: the column that holds the labels",
    )


def canonical_mix(self: TrainConfig) -> None:
    """``mix`` in one form per trial, so that equal trials hash and log the same: empty for the methods
    ``mix_method`` names (their trial keys are what they were before ``mix`` existed), else the method
    and every option of it, checked by the registry (which imports torch: only for those methods)."""
    require(
        isinstance(self.mix, dict),
        "mix",
        f"must be a mapping such as {{method: cutmix}}; got {self.mix!r}",
    )
    if not self.mix:
        return
    name = self.mix.get("method")
    require(isinstance(name, str), "mix.method", f"must name a mixing method; got {name!r}")
    require(
        self.mix_method == "mixup" or name == self.mix_method,
        "mix.method",
        f"is {name!r} but mix_method is {self.mix_method!r}: name the method in one place",
    )
    if name in BUILTIN_MIX_METHODS:  # its options are the trial's own: alpha, lambda_per, ...
        extra = sorted(set(self.mix) - {"method"})
        require(
            not extra,
            f"mix.{extra[0]}" if extra else "mix",
            f"{name} has no options under mix: (it reads the trial's alpha, lambda_per and mix_*)",
        )
        self.mix_method, self.mix = name, {}  # type: ignore[assignment,unused-ignore]  # mix_method's Literal


def _check_registered_mix(self: TrainConfig) -> None:
    """A method of the registry, after every other option is checked: its name, its options and the
    trial options it does not read (``trainables.mixing.checked_options``), then its own checks."""
    from ..mixing import checked_options, method_class

    self.mix = checked_options(self)
    method_class(self).check_config(self)


def check_registered(self: TrainConfig) -> None:
    """After every other option: a registry method's ``mix:`` block, and the metrics by name."""
    if self.mix:
        _check_registered_mix(self)
    if self.metrics:
        from ..metrics import METRICS

        for name in self.metrics:
            require(name in METRICS, "metrics", METRICS.unknown(name))
