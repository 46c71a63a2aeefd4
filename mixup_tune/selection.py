"""Honest model selection: what a sweep's searcher chooses on, and the validation split it holds out to do so.

A searcher that chooses trials (Optuna's sampler, ASHA's early stopping) and is shown the test error fits
the test set: the best trial's test error is then biased low (Cawley and Talbot, 2010). So a sweep that
chooses, and names no objective, optimises ``val_error`` on a validation split held out of the training
set, ``DEFAULT_VAL_FRACTION`` of it, drawn with the data's fixed ``SPLIT_SEED`` (the same examples in every
trial, recorded in the trial's ``dataset_shapes``). A sweep that names a test metric as its objective runs as
written, with a one-line warning. A grid or random sweep chooses nothing while it runs; its objective only
orders the progress table, and keeps the paper's protocol of training on every training example.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from trainables import ConfigError

if TYPE_CHECKING:
    from .spec import SweepSpec

DEFAULT_VAL_FRACTION = 0.1  # of the training set (after train_subset), when a choosing sweep needs a split
VALIDATION_OBJECTIVE = "val_error"
TEST_OBJECTIVES = ("test_error", "test_nll", "test_ece")
_STREAMED = "imagefolder_stream"  # streams its folders as they are: no validation split to hold out


def chooser(spec: SweepSpec) -> str | None:
    """What chooses among the sweep's trials while it runs, by the objective: Optuna, ASHA, or nothing."""
    if spec.tune.algorithm == "optuna":
        return "Optuna" + (" with ASHA" if spec.tune.scheduler == "asha" else "")
    return "ASHA" if spec.tune.scheduler == "asha" else None


def has_validation_split(spec: SweepSpec) -> bool:
    """Whether the sweep's trials hold out a validation split: ``val_fraction`` set or swept, or a data
    file that names its own (``split_column``)."""
    trainable = spec.trainable
    return (
        trainable.val_fraction > 0
        or "val_fraction" in spec.search
        or any(_positive(variant.get("val_fraction")) for variant in spec.variants)
        or trainable.split_column is not None
    )


def _positive(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def resolve_objective(spec: SweepSpec) -> None:
    """Set the sweep's objective where the file left it out, and hold out a validation split for it where a
    chooser needs one. Called once, as the spec is validated; a classifier sweep only (a GAN has its own)."""
    explicit = "metric" in spec.tune.model_fields_set
    chooses = chooser(spec) is not None
    streamed = spec.trainable.dataset == _STREAMED
    if not explicit and not streamed and (chooses or has_validation_split(spec)):
        spec.tune.metric = VALIDATION_OBJECTIVE
    if spec.tune.metric != VALIDATION_OBJECTIVE or has_validation_split(spec):
        return
    if not chooses:  # a grid asked for val_error but holds out nothing: the user must say how much
        raise ConfigError("tune.metric", "val_error needs a validation split: set trainable.val_fraction > 0")
    if streamed:
        raise ConfigError("tune.metric", f"val_error needs a validation split, which {_STREAMED} has not")
    spec.trainable = dataclasses.replace(spec.trainable, val_fraction=DEFAULT_VAL_FRACTION)


def selection_warning(spec: SweepSpec) -> str | None:
    """One line when a chooser is shown a test metric: its best trial's test score is optimistic."""
    who = chooser(spec)
    if who is None or spec.tune.metric not in TEST_OBJECTIVES:
        return None
    why = (
        f"{_STREAMED} holds out no validation split"
        if spec.trainable.dataset == _STREAMED
        else "set tune.metric: val_error (a seeded validation split is held out by default)"
    )
    return (
        f"tune.metric {spec.tune.metric}: {who} chooses trials on the test set, so the best trial's test "
        f"score is optimistic; {why}"
    )


def selection_summary(spec: SweepSpec) -> str:
    """What the sweep chose on, for its parent run's tag (``tags.SELECTION``)."""
    who = chooser(spec) or "nothing (the objective orders the progress table only)"
    split = (
        f"validation split val_fraction={spec.trainable.val_fraction:g}"
        if spec.trainable.val_fraction > 0
        else "validation split from the sweep's axes or data file"
        if has_validation_split(spec)
        else "no validation split"
    )
    return f"{spec.tune.metric} ({spec.tune.mode}); chooser: {who}; {split}"
