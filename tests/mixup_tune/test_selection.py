"""Honest selection (mixup_tune.selection): what a sweep's searcher is shown, and the split it holds out."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixup_tune.cli import main
from mixup_tune.selection import DEFAULT_VAL_FRACTION, selection_summary, selection_warning
from mixup_tune.spec import SpecError, SweepSpec, load_spec

BASE = "name: s\ntrainable: {dataset: digits, model: mlp, epochs: 2}\n"


def spec_of(tmp_path: Path, text: str) -> SweepSpec:
    path = tmp_path / "s.yaml"
    path.write_text(BASE + text)
    return load_spec(path)


@pytest.mark.parametrize(
    "tune",
    [
        "tune: {algorithm: optuna, num_samples: 3}\nsearch: {alpha: {uniform: [0, 1]}}\n",
        "tune: {algorithm: random, num_samples: 3, scheduler: asha}\nsearch: {alpha: {uniform: [0, 1]}}\n",
        "tune: {scheduler: asha}\nsearch: {alpha: [0, 1]}\n",
    ],
    ids=["optuna", "random-asha", "grid-asha"],
)
def test_a_choosing_sweep_optimises_a_held_out_validation_split(tmp_path: Path, tune: str) -> None:
    spec = spec_of(tmp_path, tune)
    assert spec.tune.metric == "val_error"
    assert spec.trainable.val_fraction == DEFAULT_VAL_FRACTION
    assert selection_warning(spec) is None
    assert "validation split val_fraction=0.1" in selection_summary(spec)


def test_a_split_the_user_gives_is_kept(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, "trainable: {val_fraction: 0.25}\ntune: {algorithm: optuna, num_samples: 2}\n")
    assert spec.tune.metric == "val_error" and spec.trainable.val_fraction == 0.25


def test_a_grid_chooses_nothing_and_keeps_every_training_example(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, "search: {alpha: [0, 1]}\n")
    assert spec.tune.metric == "test_error" and spec.trainable.val_fraction == 0
    assert selection_warning(spec) is None
    assert "chooser: nothing" in selection_summary(spec)
    # a grid that holds out a split reports on it
    assert spec_of(tmp_path, "trainable: {val_fraction: 0.2}\n").tune.metric == "val_error"


def test_a_test_metric_named_as_a_choosers_objective_is_run_with_a_warning(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, "tune: {algorithm: optuna, num_samples: 2, metric: test_error}\n")
    assert spec.tune.metric == "test_error" and spec.trainable.val_fraction == 0
    warning = selection_warning(spec)
    assert warning is not None and "\n" not in warning
    assert warning.startswith("tune.metric test_error: Optuna chooses trials on the test set")
    # the same objective on a grid chooses nothing: no warning
    assert selection_warning(spec_of(tmp_path, "tune: {metric: test_error}\n")) is None


def test_the_cli_warns_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.yaml").write_text(BASE + "tune: {algorithm: optuna, num_samples: 2, metric: test_nll}\n")
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["plan", str(tmp_path / "s.yaml"), "--tracking-uri", store]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(lines) == 1 and lines[0].startswith("mixup-tune: warning: tune.metric test_nll: Optuna")


def test_val_error_on_a_grid_without_a_split_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="tune.metric: val_error needs a validation split"):
        spec_of(tmp_path, "tune: {metric: val_error}\n")


def test_a_streamed_dataset_has_no_split_to_choose_on(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: s\ntrainable: {dataset: imagefolder_stream, data_path: /nowhere, model: cnn}\n"
        "tune: {algorithm: optuna, num_samples: 2}\n"
    )
    spec = load_spec(path)
    assert spec.tune.metric == "test_error" and spec.trainable.val_fraction == 0
    warning = selection_warning(spec)
    assert warning is not None and "imagefolder_stream holds out no validation split" in warning


def test_evaluation_is_a_sweep_option_read_into_every_trial(tmp_path: Path) -> None:
    spec = spec_of(tmp_path, "evaluation: {corruptions: [fog, contrast], severities: [3], ood: [noise]}\n")
    assert spec.trainable.evaluation.corruptions == ("fog", "contrast")
    assert spec.trainable.flat()["evaluation.ood"] == ("noise",)
    with pytest.raises(SpecError, match=r"evaluation: set it once"):
        spec_of(
            tmp_path,
            "evaluation: {ood: [noise]}\n".replace("evaluation", "trainable: {evaluation: {}}\nevaluation"),
        )
    with pytest.raises(SpecError, match=r"trainable.evaluation.corruptions: unknown corruption 'frost'"):
        spec_of(tmp_path, "evaluation: {corruptions: [frost]}\n")
