"""Every loader on tiny files written in its real format (tests/trainables/real_format.py): no offline
datasets needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from real_format import write_cifar_pickles, write_idx_gz, write_speech_archive, write_uci

from trainables import load_data
from trainables.data.speech import FRAMES, speaker_of, split_of


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_cifar_python_pickles(name: str, tmp_path: Path, isolated_cache: Path) -> None:
    written = write_cifar_pickles(tmp_path, name)
    data = load_data(name, data_root=tmp_path)
    assert (
        data.x_train.dtype == torch.uint8
        and data.x_train.shape == (30, 3, 32, 32)
        and data.x_test.shape == (6, 3, 32, 32)
    )
    assert np.array_equal(data.x_train.numpy(), written["x_train"]) and np.array_equal(
        data.x_test.numpy(), written["x_test"]
    )
    assert data.y_train.tolist() == written["y_train"].tolist() and data.num_classes == (
        10 if name == "cifar10" else 100
    )


def test_fashion_mnist_idx_gz_files(tmp_path: Path, isolated_cache: Path) -> None:
    written = write_idx_gz(tmp_path)
    data = load_data("fashion_mnist", data_root=tmp_path)
    assert (
        data.x_train.shape == (30, 1, 28, 28)
        and data.x_test.shape == (10, 1, 28, 28)
        and data.num_classes == 10
    )
    assert (
        np.array_equal(data.x_train[:, 0].numpy(), written["x_train"])
        and data.y_test.tolist() == written["y_test"].tolist()
    )


def test_uci_text_and_arff_files(tmp_path: Path, isolated_cache: Path) -> None:
    rows = write_uci(tmp_path)
    shapes = {
        name: load_data(name, data_root=tmp_path)
        for name in ("abalone", "arcene", "arrhythmia", "htru2", "phishing")
    }
    abalone = shapes["abalone"]
    assert (
        abalone.x_train.shape[1] == 10
        and len(abalone.y_train) + len(abalone.y_test) == 40
        and abalone.num_classes == 4
    )
    assert (abalone.x_train[:, :3].sum(1) == 1).all(), "sex one-hot"
    assert 3 in abalone.y_train.tolist() and 3 not in abalone.y_test.tolist(), (
        "the ring count seen once is trained on, not only tested"
    )
    arcene = shapes["arcene"]
    assert (
        arcene.x_train.shape == (12, 50)
        and arcene.x_test.shape == (8, 50)
        and arcene.y_train.tolist() == [0, 1] * 6
    )
    assert np.array_equal(arcene.x_test.numpy(), rows["arcene_valid"].astype(np.float32)), (
        "the challenge's own valid set is the test set"
    )
    arrhythmia = shapes["arrhythmia"]
    assert (
        arrhythmia.x_train.shape == (24, 12)
        and arrhythmia.num_classes == 3
        and torch.isfinite(arrhythmia.x_train).all()
    )
    raw = rows["arrhythmia"]
    others = [c for c in range(12) if c != 5]
    source = [
        next(i for i in range(30) if np.array_equal(raw[i, others].astype(float), row[others].numpy()))
        for row in arrhythmia.x_train
    ]
    missing = [raw[i, 5] == "?" for i in source]
    known = [float(raw[i, 5]) for i, gap in zip(source, missing) if not gap]
    filled = arrhythmia.x_train[:, 5][torch.tensor(missing)]
    assert any(missing) and (filled == float(np.median(known))).all(), (
        "a missing value takes the training split's median"
    )
    assert shapes["htru2"].x_train.shape == (24, 8) and shapes["phishing"].x_train.shape == (24, 30)
    assert set(torch.unique(shapes["phishing"].x_train).tolist()) <= {-1.0, 0.0, 1.0}


def test_the_speech_archive_of_flac_clips(tmp_path: Path, isolated_cache: Path) -> None:
    write_speech_archive(tmp_path)
    data = load_data("speech_commands", data_root=tmp_path)
    assert data.input_shape == (1, 160, 101) and data.num_classes == 3
    assert len(data.y_train) + len(data.y_val) + len(data.y_test) == 90
    expected = {
        name: sum(split_of(speaker_of(Path(f"{s:08x}_nohash_0.flac"))) == name for s in range(30)) * 3
        for name in ("train", "val", "test")
    }
    assert (len(data.y_train), len(data.y_val), len(data.y_test)) == (
        expected["train"],
        expected["val"],
        expected["test"],
    )
    short = torch.cat([data.x_train, data.x_val, data.x_test]).float()[:, 0]
    assert ((short == 0).all(1).sum(1) == FRAMES - 51).sum() == 3, (
        "the three half-second clips are zero past their end"
    )
