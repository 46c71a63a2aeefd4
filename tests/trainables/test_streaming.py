"""The streamed image folder (ImageNet-sized data): read from disk batch by batch, reproducible whatever the
worker count."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import cli_in_process, write_image_folder

from trainables import ConfigError, DatasetError, TrainConfig, train
from trainables.tasks import history_entry
from trainables.tasks.stream import StreamingTrial


def streamed(root: Path, **options: Any) -> TrainConfig:
    base = {
        "dataset": "imagefolder_stream",
        "data_path": str(root),
        "crop_size": 16,
        "model": "cnn",
        "batch_size": 8,
        "epochs": 3,
        "alpha": 1.0,
        "loader_workers": 0,
        "optimizer": {"name": "sgd", "lr": 0.05},
    }
    return TrainConfig.from_dict({**base, **options})


def test_a_streamed_folder_of_mixed_sizes_trains_and_is_measured(tmp_path: Path) -> None:
    root = write_image_folder(
        tmp_path / "images", classes=4, train=8, test=4, test_split="val", varied_sizes=True
    )
    trial = StreamingTrial(streamed(root))
    assert (len(trial.y_train), len(trial.y_test), trial.num_classes) == (32, 16, 4)
    x, index = trial.train_images[3]
    assert x.shape == (3, 16, 16) and x.dtype == torch.uint8 and index == 3
    history = train(streamed(root, label_noise=0.25)).history
    assert [m["epoch"] for m in history] == [1, 2, 3] and all(0 <= m["test_error"] <= 100 for m in history)
    # 4 classes: top-1 only
    assert "train_error_corrupted" in history[-1] and "test_error_top5" not in history[-1]


def test_crops_and_flips_depend_on_the_seed_and_the_epoch_not_on_the_workers(tmp_path: Path) -> None:
    root = write_image_folder(
        tmp_path / "images", classes=4, train=8, test=4, test_split="val", varied_sizes=True
    )
    straight: list[Any] = []
    train(
        streamed(root, loader_workers=2),
        on_epoch=lambda metrics, state: straight.append((metrics, copy.deepcopy(state()))),
    )
    resumed: list[Any] = []
    train(
        streamed(root),
        on_epoch=lambda metrics, state: resumed.append((metrics, copy.deepcopy(state()))),
        resume_state=straight[0][1],
    )
    # two workers, then none: the same epochs to the last bit
    assert [history_entry(m) for m, _ in resumed] == [history_entry(m) for m, _ in straight[1:]]
    for key, value in straight[-1][1]["model"].items():
        assert torch.equal(value, resumed[-1][1]["model"][key]), key
    first, second = (StreamingTrial(streamed(root)).train_images for _ in range(2))
    second.epoch_seed = 1
    assert not torch.equal(
        torch.stack([first[i][0] for i in range(8)]), torch.stack([second[i][0] for i in range(8)])
    )


def test_what_needs_the_data_in_memory_is_refused_and_a_missing_split_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="adversarial: is not available with dataset imagefolder_stream"):
        streamed(tmp_path, adversarial=True)
    with pytest.raises(ConfigError, match="data_path: is required"):
        TrainConfig(dataset="imagefolder_stream")
    (tmp_path / "only-train" / "train" / "a").mkdir(parents=True)
    with pytest.raises(DatasetError, match="expected .*only-train/train/<class>/ and .*/val/<class>/"):
        StreamingTrial(streamed(tmp_path / "only-train"))
    # earlier trial ids unchanged
    assert (
        "crop_size" not in TrainConfig().flat() and streamed(tmp_path, crop_size=32).flat()["crop_size"] == 32
    )
    (tmp_path / "sweep.yaml").write_text(
        f"name: s\ntrainable: {{dataset: imagefolder_stream, data_path: {tmp_path / 'only-train'}}}\n"
    )
    done = cli_in_process(
        "run", "sweep.yaml", "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", cwd=tmp_path
    )
    assert (
        done.returncode == 2
        and len(done.stderr.strip().splitlines()) == 1
        and "only-train/val/<class>/" in done.stderr
    )
    assert not (tmp_path / "mlflow.db").exists()  # refused before any run was created
