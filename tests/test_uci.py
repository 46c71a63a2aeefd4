"""The UCI datasets of Table 4, read from their usual files in ../shared/datasets/uci."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainables import DatasetError, TrainConfig, load_data, train

# name -> (features, training examples, test examples, classes), from the files' documented sizes
EXPECTED = {
    "abalone": (10, 3341, 836, 28),  # sex one-hot (3) + 7 measurements; rings as the class
    "arcene": (10000, 100, 100, 2),  # the challenge's train / valid sets
    "arrhythmia": (279, 361, 91, 13),  # 13 of the 16 classes occur
    "htru2": (8, 14318, 3580, 2),
    "phishing": (30, 8844, 2211, 2),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_uci_dataset_shapes_labels_and_no_missing_values(name: str, datasets_dir: Path, isolated_cache: Path) -> None:
    features, n_train, n_test, classes = EXPECTED[name]
    data = load_data(name, data_root=datasets_dir)
    assert tuple(data.x_train.shape) == (n_train, features) and tuple(data.x_test.shape) == (n_test, features)
    assert data.num_classes == classes
    assert set(torch.cat([data.y_train, data.y_test]).unique().tolist()) == set(range(classes))
    assert not torch.isnan(data.x_train).any() and not torch.isnan(data.x_test).any()
    again = load_data(name, data_root=datasets_dir)  # from the cache: the same fixed split
    assert torch.equal(again.x_test, data.x_test) and torch.equal(again.y_train, data.y_train)


def test_arrhythmia_missing_values_take_the_training_median(datasets_dir: Path, isolated_cache: Path) -> None:
    """Column 13 (the J angle) is '?' in most rows: it is filled, never NaN, and by the training split's median."""
    data = load_data("arrhythmia", data_root=datasets_dir)
    column = data.x_train[:, 13]
    assert column.isfinite().all() and (column == column.median()).float().mean() > 0.5


def test_a_missing_uci_dataset_names_the_files_expected(tmp_path: Path, isolated_cache: Path) -> None:
    with pytest.raises(DatasetError, match=f"dataset 'htru2'.*{tmp_path}/uci/htru2/HTRU_2.csv"):
        load_data("htru2", data_root=tmp_path)


def test_the_papers_tabular_recipe_trains_on_uci_data(datasets_dir: Path, isolated_cache: Path) -> None:
    """Section 3.6: an MLP of 2 x 128, Adam, batch 16; mixup on arrhythmia's 279 features (2 epochs here)."""
    config = TrainConfig(dataset="arrhythmia", data_root=str(datasets_dir), model="mlp", hidden_sizes=(128, 128), epochs=2, batch_size=16,
                         alpha=1.0, optimizer={"name": "adam", "lr": 1e-3, "weight_decay": 0.0}, device="cpu")  # fmt: skip
    result = train(config)
    assert len(result.history) == 2 and not result.diverged and result.final["test_error"] < 60  # the majority class alone: 46%
