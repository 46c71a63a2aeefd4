"""mixup_tune.checks without Ray: what the data check refuses before anything is written, on real data
(scikit-learn's digits) and real models."""

from __future__ import annotations

from typing import Any

import pytest

from mixup_tune.checks import check_sweep_data
from mixup_tune.errors import UserError
from mixup_tune.spec import SweepSpec, validate_spec


def _spec(model: str, **document: Any) -> SweepSpec:
    trainable = {"dataset": "digits", "model": model, "epochs": 1, "mix_method": "manifold_mixup", "alpha": 1}
    return validate_spec({"name": "manifold", "trainable": trainable, **document})


def test_manifold_mixup_on_a_model_that_names_no_layers_is_refused_in_one_line() -> None:
    """Whether a model names layers to mix at is known once it is built (the registries carry no list of
    such models): the data check builds it on the data's shape."""
    with pytest.raises(UserError) as refused:
        check_sweep_data(_spec("torchvision/resnet18"))
    message = str(refused.value)
    assert "\n" not in message, message
    assert message.startswith("mix_method: manifold_mixup: model 'torchvision/resnet18' names no layers"), (
        message
    )
    assert message.endswith("(dataset 'digits')"), message
    # a sampled search: every model it may draw, since any trial may mix so
    sampled = _spec(
        "mlp",
        search={"model": ["mlp", "torchvision/resnet18"]},
        tune={"algorithm": "random", "num_samples": 2},
    )
    with pytest.raises(UserError, match="model 'torchvision/resnet18' names no layers"):
        check_sweep_data(sampled)


def test_models_that_name_their_layers_pass_and_a_grid_is_checked_by_its_own_pairs() -> None:
    check_sweep_data(_spec("mlp", search={"model": ["mlp", "cnn"]}))
    # the model without layers is only ever paired with mixup here: nothing to refuse
    check_sweep_data(
        _spec(
            "mlp",
            variants=[
                {"model": "cnn", "mix_method": "manifold_mixup"},
                {"model": "torchvision/resnet18", "mix_method": "mixup"},
            ],
        )
    )
    # and with alpha 0 manifold_mixup mixes nothing: no layers needed
    check_sweep_data(_spec("torchvision/resnet18", search={"alpha": [0]}))


def test_corruptions_of_feature_vectors_are_refused_before_any_run() -> None:
    spec = validate_spec(
        {"name": "c", "trainable": {"dataset": "digits", "epochs": 1}, "evaluation": {"corruptions": ["fog"]}}
    )
    with pytest.raises(UserError) as refused:
        check_sweep_data(spec)
    assert str(refused.value) == (
        "evaluation.corruptions: corrupt images, and this dataset gives feature vectors (dataset 'digits')"
    )
    # in a variant only, the same
    variant = validate_spec(
        {
            "name": "c",
            "trainable": {"dataset": "digits", "epochs": 1},
            "variants": [{"evaluation.corruptions": ["all"]}],
        }
    )
    with pytest.raises(UserError, match="evaluation.corruptions: corrupt images"):
        check_sweep_data(variant)
    check_sweep_data(
        validate_spec({"name": "c", "trainable": {"dataset": "digits"}, "evaluation": {"ood": ["noise"]}})
    )
