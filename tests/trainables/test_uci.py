"""The UCI datasets of Table 4, read from their usual files in ../shared/datasets/uci."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
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
def test_uci_dataset_shapes_labels_and_no_missing_values(
    name: str, datasets_dir: Path, isolated_cache: Path
) -> None:
    features, n_train, n_test, classes = EXPECTED[name]
    data = load_data(name, data_root=datasets_dir)
    assert tuple(data.x_train.shape) == (n_train, features) and tuple(data.x_test.shape) == (n_test, features)
    assert data.num_classes == classes
    assert set(torch.cat([data.y_train, data.y_test]).unique().tolist()) == set(range(classes))
    assert not torch.isnan(data.x_train).any() and not torch.isnan(data.x_test).any()
    again = load_data(name, data_root=datasets_dir)  # from the cache: the same fixed split
    assert torch.equal(again.x_test, data.x_test) and torch.equal(again.y_train, data.y_train)


def test_arrhythmia_missing_values_take_the_training_median(datasets_dir: Path, isolated_cache: Path) -> None:
    """Column 13 (the J angle) is '?' in most rows: it is filled, never NaN, and by the training split's
    median."""
    data = load_data("arrhythmia", data_root=datasets_dir)
    column = data.x_train[:, 13]
    assert column.isfinite().all() and (column == column.median()).float().mean() > 0.5


def test_a_missing_uci_dataset_names_the_files_expected(tmp_path: Path, isolated_cache: Path) -> None:
    with pytest.raises(DatasetError, match=f"dataset 'htru2'.*{tmp_path}/uci/htru2/HTRU_2.csv"):
        load_data("htru2", data_root=tmp_path)


def test_the_papers_tabular_recipe_trains_on_uci_data(datasets_dir: Path, isolated_cache: Path) -> None:
    """Section 3.6: an MLP of 2 x 128, Adam, batch 16; mixup on arrhythmia's 279 features (2 epochs here)."""
    config = TrainConfig(
        dataset="arrhythmia",
        data_root=str(datasets_dir),
        model="mlp",
        hidden_sizes=(128, 128),
        epochs=2,
        batch_size=16,
        alpha=1.0,
        optimizer={"name": "adam", "lr": 1e-3, "weight_decay": 0.0},
        device="cpu",
    )
    result = train(config)
    # the majority class alone: 46%
    assert len(result.history) == 2 and not result.diverged and result.final["test_error"] < 60


TINY_UCI_SWEEP = """\
name: uci-tiny
study: uci
trainable: {{model: mlp, hidden_sizes: [32], epochs: 10, batch_size: 16, train_subset: 200, data_root: {root},
             optimizer: {{name: adam, lr: 1.0e-3, weight_decay: 0.0}}}}
search: {{dataset: [abalone, arcene, arrhythmia, htru2, iris, phishing], alpha: [0, 1], seed: [0, 1]}}
resources: {{cpu: 1, gpu: 0}}
"""


@pytest.mark.integration
def test_a_tiny_uci_sweep_regenerates_table4_beside_the_papers_numbers(
    tmp_path: Path, datasets_dir: Path
) -> None:
    """All six datasets through `mixup-tune run` and `analyze`: the table's numbers are the logged runs'
    own."""
    from helpers import run_and_analyze

    from analysis import load_runs
    from analysis.paper import TABLE4

    uri = run_and_analyze(tmp_path, TINY_UCI_SWEEP.format(root=datasets_dir))
    runs = load_runs("uci-tiny", uri)
    assert len(runs) == 24 and (runs["status"] == "FINISHED").all()
    table = pd.read_csv(tmp_path / "out" / "uci_table4.csv").set_index("dataset")
    assert sorted(table.index) == sorted(TABLE4["dataset"])
    for dataset, rows in runs.groupby("dataset"):
        erm = rows[rows["alpha"] == 0].set_index("seed")["last_test_error"]
        mixup = rows[rows["alpha"] == 1].set_index("seed")["last_test_error"]
        assert table.loc[dataset, "erm_mean"] == pytest.approx(erm.mean(), abs=1e-3)
        assert (
            table.loc[dataset, "mixup_mean"] == pytest.approx(mixup.mean(), abs=1e-3)
            and table.loc[dataset, "mixup_alpha"] == 1
        )
        assert (
            table.loc[dataset, "difference_mean"] == pytest.approx((mixup - erm).mean(), abs=1e-3)
            and table.loc[dataset, "seeds"] == 2
        )
        paper = TABLE4.set_index("dataset").loc[dataset]
        assert (table.loc[dataset, "paper_erm"], table.loc[dataset, "paper_mixup"]) == (
            paper["erm_test_error"],
            paper["mixup_test_error"],
        )
    report = (tmp_path / "out" / "report.md").read_text()
    assert (
        "## UCI tabular data (Section 3.6, Table 4)" in report
        and "Ours (best alpha per dataset): lower on" in report
    )
    assert (tmp_path / "out" / "uci.png").stat().st_size > 10_000


def test_the_table4_finding_counts_as_printed_and_calls_clear_only_differences_beyond_the_interval() -> None:
    from analysis.studies.uci import finding

    replica = pd.DataFrame(
        {
            "difference_mean": [-2.0, 1.0, -0.5, 0.04, float("nan")],
            "difference_low": [-3.0, 0.5, -1.5, 0.03, float("nan")],
            "difference_high": [-1.0, 1.5, 0.5, 0.05, float("nan")],
        }
    )
    expected = (
        "lower on 2 of 4, equal to 0.1 point on 1, higher on 1; "
        "beyond the 95% interval of the paired differences, lower on 1 and higher on 1"
    )
    assert expected in finding(replica)


def test_arcenes_constant_training_features_are_centred_not_blown_up(datasets_dir: Path) -> None:
    """Arcene has 80 features constant in its training set; a std floor once put its test inputs at |z| =
    1.2e8."""
    from trainables.normalise import Normalisation

    data = load_data("arcene", data_root=datasets_dir)
    normalisation = Normalisation.fit(data.x_train)
    assert normalisation.centred_only == 80
    assert float(normalisation(data.x_test).abs().max()) < 1000, (
        "centred only: raw units, not a division by a zero std"
    )
    assert float(normalisation(data.x_train).abs().max()) < 10


def test_table4s_numbers_go_beside_ours_only_on_its_setting() -> None:
    """Same datasets, network family and epochs: the paper's column; other epochs: none, and a sentence naming
    them."""
    from analysis.paper import TABLE4_SETTING, comparable, not_comparable
    from analysis.studies.uci import table4, uci_table

    runs = pd.DataFrame(
        {
            "dataset": ["iris"] * 4,
            "model": "mlp",
            "epochs": 10,
            "alpha": [0.0, 0.0, 1.0, 1.0],
            "seed": [0, 1, 0, 1],
            "status": "FINISHED",
            "diverged": False,
            "last_test_error": [5.0, 6.0, 4.0, 5.0],
        }
    )
    assert comparable(runs, TABLE4_SETTING) and table4(runs, uci_table(runs))["paper_erm"].tolist() == [21.3]
    shorter = runs.assign(epochs=2)
    assert (
        not comparable(shorter, TABLE4_SETTING)
        and table4(shorter, uci_table(shorter))["paper_erm"].isna().all()
    )
    assert not_comparable(shorter, TABLE4_SETTING, "Table 4").endswith("these runs differ in epochs 2.")
