"""The paper's numbers sit beside ours only on the paper's own setting: dataset, network family and epochs."""

from __future__ import annotations

import pandas as pd

from analysis.paper import TABLE2_SETTING, TABLE3_SETTING, comparable, differences, not_comparable
from analysis.studies.label_noise import best_settings, settings_table, table2


def _label_noise_runs(**setting: object) -> pd.DataFrame:
    base = {
        "dataset": "cifar10",
        "model": "preact_resnet18_authors",
        "epochs": 200,
        "label_noise": 0.5,
        "status": "FINISHED",
        "diverged": False,
    }
    rows = [
        {
            **base,
            **setting,
            "alpha": alpha,
            "dropout": 0.0,
            "seed": seed,
            "best_test_error": 10.0 + alpha,
            "last_test_error": 12.0 + alpha,
            "train_error_real": 1.0,
            "train_error_corrupted": 80.0,
        }
        for alpha in (0.0, 32.0)
        for seed in (0, 1)
    ]
    return pd.DataFrame(rows)


def test_the_papers_cifar_recipe_gets_table2_beside_it() -> None:
    runs = _label_noise_runs()
    assert comparable(runs, TABLE2_SETTING) and comparable(
        runs.assign(model="preact_resnet18"), TABLE2_SETTING
    ), "either PreAct ResNet-18"
    replica = table2(best_settings(settings_table(runs)), with_paper=True)
    assert replica["test error, last (paper)"].tolist() == ["44.6", "12.7"]


def test_the_fast_16_epoch_net_under_the_label_noise_study_is_named_not_compared() -> None:
    runs = _label_noise_runs(model="fast_cifar", epochs=16)  # sweeps/cifar10_fast.yaml
    assert differences(runs, TABLE2_SETTING) == ["network fast_cifar", "epochs 16"]
    assert not_comparable(runs, TABLE2_SETTING, "Table 2") == (
        "The paper's numbers are not printed beside ours: Table 2 is CIFAR-10, PreAct ResNet-18, 200 epochs, "
        "and these runs differ in network fast_cifar; epochs 16."
    )
    assert not any(
        "(paper)" in column
        for column in table2(best_settings(settings_table(runs)), with_paper=False).columns
    )


def test_table3s_imagenet_numbers_never_sit_beside_cifar_attacks() -> None:
    runs = _label_noise_runs(model="preact_resnet18_authors")
    assert differences(runs, TABLE3_SETTING) == [
        "dataset cifar10",
        "network preact_resnet18_authors",
        "epochs 200",
    ]
