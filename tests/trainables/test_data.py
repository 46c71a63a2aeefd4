"""The dataset registry: bundled, torchvision and user data, caching, splits and clear errors."""

from __future__ import annotations

import dataclasses
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from trainables import DatasetError, dataset_names, load_data
from trainables.data import CACHE_VERSION, Splits


def test_unknown_dataset_lists_the_known_ones() -> None:
    with pytest.raises(DatasetError, match="unknown dataset 'mnist9'.*digits"):
        load_data("mnist9")
    assert {"digits", "iris", "fashion_mnist", "cifar10", "npz", "imagefolder"} <= set(dataset_names())


def test_digits_is_bundled_and_split_the_same_way_every_time() -> None:
    a, b = load_data("digits"), load_data("digits")
    assert a.x_train.shape == (1347, 1, 8, 8) and a.x_test.shape == (450, 1, 8, 8)
    assert a.num_classes == 10
    assert torch.equal(a.y_test, b.y_test)
    assert float(a.x_train.max()) == 1.0


def test_iris_is_tabular() -> None:
    iris = load_data("iris")
    assert iris.x_train.shape[1:] == (4,) and iris.num_classes == 3 and not iris.is_image


def test_validation_split_is_held_out_and_fixed() -> None:
    full = load_data("digits")
    a, b = load_data("digits", val_fraction=0.2), load_data("digits", val_fraction=0.2)
    assert len(a.y_val) == round(0.2 * len(full.y_train))
    assert len(a.y_train) + len(a.y_val) == len(full.y_train)
    assert torch.equal(a.y_val, b.y_val) and torch.equal(a.x_val, b.x_val)
    train_rows = {tuple(r) for r in a.x_train.flatten(1).tolist()}
    assert not any(tuple(r) in train_rows for r in a.x_val.flatten(1).tolist()[:50])


def test_train_subset_is_a_fixed_draw() -> None:
    a, b = load_data("digits", train_subset=100), load_data("digits", train_subset=100)
    assert len(a.y_train) == 100 and torch.equal(a.y_train, b.y_train)


def test_test_subset_is_a_fixed_draw_of_the_test_set_that_leaves_the_training_split_alone() -> None:
    full, a = load_data("digits"), load_data("digits", train_subset=100, test_subset=50)
    b = load_data("digits", train_subset=100, test_subset=50, val_fraction=0.2)
    assert len(a.y_test) == 50 and torch.equal(a.y_test, b.y_test) and torch.equal(a.x_test, b.x_test)
    assert torch.equal(a.y_train, load_data("digits", train_subset=100).y_train)
    rows = {tuple(r): y for r, y in zip(full.x_test.flatten(1).tolist(), full.y_test.tolist())}
    assert all(rows[tuple(r)] == y for r, y in zip(a.x_test.flatten(1).tolist(), a.y_test.tolist()))
    assert len(set(a.y_test.tolist())) > 5  # a random draw, not the first 50


def test_npz_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(
        path,
        x_train=np.ones((5, 3), np.float32),
        y_train=np.array([0, 1, 2, 1, 0]),
        x_test=np.zeros((2, 3)),
        y_test=np.array([2, 0]),
    )
    data = load_data("npz", data_path=path)
    assert data.x_train.dtype == torch.float32 and data.num_classes == 3 and data.x_test.shape == (2, 3)


def test_npz_missing_or_incomplete_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="npz.*nothing.npz"):
        load_data("npz", data_path=tmp_path / "nothing.npz")
    np.savez(tmp_path / "half.npz", x_train=np.ones((2, 2)))
    with pytest.raises(DatasetError, match="must hold x_train, y_train, x_test, y_test"):
        load_data("npz", data_path=tmp_path / "half.npz")


def _image_tree(root: Path, per_class: int = 3) -> None:
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for cls in ("cat", "dog"):
            folder = root / split / cls
            folder.mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i}.png")


def test_imagefolder_decodes_once_then_reads_the_cache(tmp_path: Path, isolated_cache: Path) -> None:
    _image_tree(tmp_path / "tree")
    first = load_data("imagefolder", data_path=tmp_path / "tree")
    assert first.x_train.shape == (6, 3, 32, 32) and first.x_train.dtype == torch.uint8
    assert first.num_classes == 2 and first.y_train.tolist() == [0, 0, 0, 1, 1, 1]
    cached = list(isolated_cache.glob("imagefolder-*.pt"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    second = load_data("imagefolder", data_path=tmp_path / "tree")
    assert torch.equal(first.x_train, second.x_train) and cached[0].stat().st_mtime_ns == stamp


# The fields of Splits that each cache version writes. A cache file holds them all, and a version that
# lacks one cannot rebuild Splits from it (a TypeError, found when the code before label_names read a
# cache written after): a change of fields must change the cache file's name.
_CACHED_FIELDS = {
    4: ("x_train", "y_train", "x_test", "y_test", "num_classes", "x_val", "y_val", "origin", "label_names"),
}


def test_a_change_to_the_cached_fields_bumps_the_cache_version() -> None:
    fields = tuple(field.name for field in dataclasses.fields(Splits))
    assert fields == _CACHED_FIELDS.get(CACHE_VERSION), (
        "Splits' fields changed: bump CACHE_VERSION in trainables/data/_common.py and list its fields here"
    )


def test_cifar10_from_a_tarball_of_an_imagefolder_tree(tmp_path: Path, isolated_cache: Path) -> None:
    _image_tree(tmp_path / "build" / "cifar10-jpg", per_class=2)
    with tarfile.open(tmp_path / "cifar10-jpg.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "build" / "cifar10-jpg", arcname="cifar10-jpg")
    data = load_data("cifar10", data_root=tmp_path)
    assert data.x_train.shape == (4, 3, 32, 32) and data.x_test.shape == (4, 3, 32, 32)


def test_missing_cifar10_names_the_paths_expected(tmp_path: Path, isolated_cache: Path) -> None:
    with pytest.raises(DatasetError, match=f"cifar10.*{tmp_path}"):
        load_data("cifar10", data_root=tmp_path)
    with pytest.raises(DatasetError, match="fashion_mnist.*train-images-idx3-ubyte.gz"):
        load_data("fashion_mnist", data_root=tmp_path)


def test_a_corrupt_download_is_named_not_a_traceback(tmp_path: Path, isolated_cache: Path) -> None:
    rng = np.random.default_rng(0)
    (tmp_path / "cifar10-jpg.tar.gz").write_bytes(rng.bytes(5000))  # junk where the archive should be
    with pytest.raises(
        DatasetError, match=f"dataset 'cifar10': cannot read {tmp_path}/cifar10-jpg.tar.gz .*corrupt"
    ):
        load_data("cifar10", data_root=tmp_path)
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (folder / f"{name}.gz").write_bytes(rng.bytes(100))
    with pytest.raises(DatasetError, match="dataset 'fashion_mnist': cannot read .*corrupt"):
        load_data("fashion_mnist", data_root=tmp_path)
    assert not list(isolated_cache.glob("*.pt")), "nothing half-written to the cache"


def test_fashion_mnist_from_the_offline_gz_files(datasets_dir: Path, isolated_cache: Path) -> None:
    data = load_data("fashion_mnist", data_root=datasets_dir)
    assert data.x_train.shape == (60000, 1, 28, 28) and data.x_test.shape == (10000, 1, 28, 28)
    assert torch.bincount(data.y_test).tolist() == [1000] * 10


def test_cifar10_from_the_offline_jpeg_archive(datasets_dir: Path) -> None:
    data = load_data("cifar10", data_root=datasets_dir)  # decoded once (~20 s on 2 cores), then cached
    assert data.x_train.shape == (50000, 3, 32, 32) and data.x_test.shape == (10000, 3, 32, 32)
    assert torch.bincount(data.y_train).tolist() == [5000] * 10


def test_a_digest_names_exactly_what_was_loaded() -> None:
    from trainables import load_data

    splits = load_data("digits")
    assert splits.digest() == load_data("digits").digest()  # the same data, the same digest
    assert load_data("digits", train_subset=500).digest() != splits.digest()
    splits.y_train[0] = (splits.y_train[0] + 1) % 10  # one label
    assert splits.digest() != load_data("digits").digest()
