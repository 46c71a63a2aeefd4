"""Models and data from outside the package (issue 28): torchvision's and timm's models and import strings by
name, a user's CSV or Parquet table, and a user's own metric. tests/integration/test_ecosystem_sweep.py runs
them through a real sweep."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from trainables import ConfigError, DatasetError, TrainConfig, load_data, register_metric, train
from trainables.models import build_model
from trainables.tasks import Trial

HAS_TIMM = importlib.util.find_spec("timm") is not None


@pytest.fixture
def table(tmp_path: Path) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 200
    species = rng.choice(["setosa", "versicolor", "virginica"], n)
    x1 = rng.normal(size=n) + (species == "setosa") * 3
    x2 = rng.normal(size=n) + (species == "virginica") * 3
    x2[::10] = np.nan
    colour = rng.choice(["red", "green", "blue"], n).astype(object)
    colour[::7] = None
    return pd.DataFrame(
        {"x1": x1, "x2": x2, "colour": colour, "flag": rng.random(n) < 0.5, "species": species}
    )


def test_a_csv_and_a_parquet_of_one_table_give_the_same_splits_and_the_textbook_encoding(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    table.to_csv(tmp_path / "t.csv", index=False)
    table.to_parquet(tmp_path / "t.parquet")
    csv = load_data("csv", data_path=tmp_path / "t.csv", label_column="species")
    parquet = load_data("parquet", data_path=tmp_path / "t.parquet", label_column="species")
    for name in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(csv, name), getattr(parquet, name)), name
    assert csv.label_names == ("setosa", "versicolor", "virginica") and csv.num_classes == 3
    # the textbook: the same stratified split (sklearn, seed 0), then median and one-hot from training rows
    from sklearn.model_selection import train_test_split

    classes = {"setosa": 0, "versicolor": 1, "virginica": 2}
    labels = table["species"].map(classes).to_numpy()
    train_rows, test_rows = train_test_split(
        np.arange(len(table)), test_size=0.2, random_state=0, stratify=labels
    )
    median = table.loc[train_rows, "x2"].median()
    colour = table["colour"].fillna("(missing)")
    categories = sorted(colour[train_rows].unique())
    expected = np.column_stack(
        [
            table["x1"],
            table["x2"].fillna(median),
            *[(colour == c).astype(float) for c in categories],
            table["flag"].astype(float),
        ]
    ).astype(np.float32)
    assert np.allclose(csv.x_train.numpy(), expected[train_rows]) and np.allclose(
        csv.x_test.numpy(), expected[test_rows]
    )
    assert csv.y_train.tolist() == labels[train_rows].tolist()


def test_a_split_column_gives_train_test_and_validation_rows(table: pd.DataFrame, tmp_path: Path) -> None:
    table["part"] = ["train"] * 120 + ["Test"] * 50 + [" val"] * 30
    table.to_csv(tmp_path / "t.csv", index=False)
    splits = load_data("csv", data_path=tmp_path / "t.csv", label_column="species", split_column="part")
    assert (len(splits.y_train), len(splits.y_test), len(splits.y_val)) == (120, 50, 30)
    assert splits.x_train.shape[1] == 7  # x1, x2, three colours and (missing), flag: part is not a feature
    with pytest.raises(DatasetError, match="its file gives a validation split; leave val_fraction at 0"):
        load_data(
            "csv", data_path=tmp_path / "t.csv", label_column="species", split_column="part", val_fraction=0.1
        )
    table["part"] = ["train"] * 199 + ["holdout"]
    table.to_csv(tmp_path / "u.csv", index=False)
    with pytest.raises(
        DatasetError, match=r"the split column holds \['holdout'\]; expected train, test or val"
    ):
        load_data("csv", data_path=tmp_path / "u.csv", label_column="species", split_column="part")


def test_bad_tables_and_files_given_to_the_wrong_loader_are_named_in_one_line(
    table: pd.DataFrame, tmp_path: Path
) -> None:
    table.to_csv(tmp_path / "t.csv", index=False)
    table.to_parquet(tmp_path / "t.parquet")
    np.savez(tmp_path / "a.npz", x_train=np.zeros((2, 2)))
    refusals = {
        "looks like a CSV file: use dataset: csv": ("npz", "t.csv", {}),
        "looks like a Parquet file: use dataset: parquet": ("csv", "t.parquet", {"label_column": "species"}),
        "looks like a zip archive": ("parquet", "a.npz", {"label_column": "species"}),
        "label_column 'kind' is not a column; columns: x1, x2, colour, flag, species": (
            "csv",
            "t.csv",
            {"label_column": "kind"},
        ),
    }
    for message, (dataset, name, options) in refusals.items():
        with pytest.raises(DatasetError, match=message) as refused:
            load_data(dataset, data_path=tmp_path / name, **options)
        assert "\n" not in str(refused.value)
    table.loc[3, "species"] = None
    table.to_csv(tmp_path / "v.csv", index=False)
    with pytest.raises(DatasetError, match=r"rows \[3\] \(0-based\) have no label in 'species'"):
        load_data("csv", data_path=tmp_path / "v.csv", label_column="species")
    with pytest.raises(ConfigError, match="label_column: is required for dataset 'csv'"):
        TrainConfig(dataset="csv", data_path="t.csv")
    with pytest.raises(ConfigError, match="label_column: is for dataset csv or parquet"):
        TrainConfig(label_column="species")


def test_a_csv_trial_records_its_class_names_and_learns(table: pd.DataFrame, tmp_path: Path) -> None:
    table.to_csv(tmp_path / "t.csv", index=False)
    config = TrainConfig(dataset="csv", data_path=str(tmp_path / "t.csv"), label_column="species", epochs=30)
    history = train(config).history
    assert history[0]["dataset_labels"] == "setosa, versicolor, virginica"
    assert history[-1]["test_error"] < 40  # it learns: x1 and x2 tell the classes apart (chance: 67%)


@pytest.mark.parametrize("name", ["torchvision/resnet18", "torchvision/mobilenet_v3_small"])
def test_torchvision_models_are_built_untrained_with_the_classes_filled_in(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, (1, 16, 16), 7)  # one grey channel, repeated into three
    from torchvision import models

    torch.manual_seed(0)
    theirs = models.get_model(name.removeprefix("torchvision/"), weights=None, num_classes=7)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), theirs.state_dict().values()))
    grey = torch.randn(2, 1, 16, 16)
    assert torch.equal(model.eval()(grey), theirs.eval()(grey.expand(-1, 3, -1, -1)))


@pytest.mark.skipif(not HAS_TIMM, reason="the timm extra is not installed (make install installs it)")
def test_timm_models_take_any_channel_count() -> None:
    model = build_model("timm/resnet18", (2, 16, 16), 5, options={"drop_rate": 0.1})
    assert model(torch.randn(3, 2, 16, 16)).shape == (3, 5)
    with pytest.raises(ConfigError, match="timm has no model 'resnet1888'"):
        TrainConfig(model="timm/resnet1888")


class TinyNet(torch.nn.Module):
    """An import string's target: gets num_classes and in_channels because it names them."""

    def __init__(self, num_classes: int, in_channels: int, width: int = 4) -> None:
        super().__init__()
        self.width = width
        self.net = torch.nn.Sequential(
            torch.nn.Conv2d(in_channels, width, 3),
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
            torch.nn.Linear(width, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def test_an_import_string_builds_the_callable_with_its_options_and_refuses_what_it_cannot_find() -> None:
    model = build_model(f"{__name__}:TinyNet", (3, 8, 8), 4, options={"width": 6})
    assert isinstance(model, TinyNet) and model.width == 6 and model(torch.randn(2, 3, 8, 8)).shape == (2, 4)
    refusals = {
        "model: torchvision has no classification model 'resnet19'; e.g. resnet101": {
            "model": "torchvision/resnet19"
        },
        "model: nopkg_zz.nets:Net: cannot import 'nopkg_zz.nets'": {"model": "nopkg_zz.nets:Net"},
        f"model: {__name__}:Nope: module '{__name__}' has no 'Nope'": {"model": f"{__name__}:Nope"},
        "model_options: are for torchvision/, timm/ and import-string models": {"model_options": {"x": 1}},
        "dropout: is for the registry's models": {"model": "torchvision/resnet18", "dropout": 0.2},
    }
    for message, options in refusals.items():
        with pytest.raises(ConfigError, match=f"^{message}"):
            TrainConfig(**options)  # type: ignore[arg-type]


def test_a_model_that_cannot_take_the_data_or_its_options_is_refused_as_the_trial_starts(
    colour_npz: Path,
) -> None:
    base = dict(dataset="npz", data_path=str(colour_npz), epochs=1, device="cpu")
    with pytest.raises(
        ConfigError, match="^model: torchvision/resnet18: ResNet.__init__.. got an unexpected keyword"
    ):
        Trial(TrainConfig(**base, model="torchvision/resnet18", model_options={"widht": 2}))
    with pytest.raises(
        ConfigError, match=r"^model: torchvision/resnet18: needs images \(channels, height, width\)"
    ):
        Trial(TrainConfig(dataset="iris", model="torchvision/resnet18", device="cpu"))
    with pytest.raises(
        ConfigError, match="^model: model torchvision/vit_b_16 cannot take this dataset's 3x32x32"
    ):
        Trial(TrainConfig(**base, model="torchvision/vit_b_16"))


@register_metric("test_top2_error")
def top2_error(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return 100.0 * float((logits.topk(2, dim=1).indices != labels[:, None]).all(1).float().mean())


@register_metric("test_mean_logit", every_epoch=False)
def mean_logit(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float(logits.mean())


def test_a_registered_metric_is_evaluated_each_epoch_or_at_the_end_on_the_unmixed_test_set() -> None:
    config = TrainConfig(epochs=3, alpha=1.0, metrics=("test_top2_error", "test_mean_logit"))
    trial = Trial(config)
    history = train(config).history
    assert [sorted(k for k in m if k.startswith("metric/")) for m in history] == [
        ["metric/test_top2_error"],
        ["metric/test_top2_error"],
        ["metric/test_mean_logit", "metric/test_top2_error"],
    ]
    assert all(m["metric/test_top2_error"] <= m["test_error"] for m in history)  # top-2 never worse
    assert "metrics" not in TrainConfig().flat(), "trials without metrics keep their keys"
    with pytest.raises(ConfigError, match="^metrics: unknown metric 'nope'"):
        TrainConfig(metrics=("nope",))
    with pytest.raises(ValueError, match="is taken by"):
        register_metric("test_top2_error")(mean_logit)
    assert trial.config.metrics == ("test_top2_error", "test_mean_logit")
