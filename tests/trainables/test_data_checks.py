"""Layout-safe inputs and data validated before training: every bad file is one DatasetError line."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.preprocessing import StandardScaler

from trainables import DatasetError, TrainConfig, load_data, train
from trainables.normalise import NEAR_CONSTANT, Normalisation


def _write_npz(path: Path, **arrays: np.ndarray) -> Path:
    rng = np.random.default_rng(0)
    defaults = {
        "x_train": rng.integers(0, 256, (40, 8, 8), dtype=np.uint8),
        "y_train": np.arange(40) % 4,
        "x_test": rng.integers(0, 256, (12, 8, 8), dtype=np.uint8),
        "y_test": np.arange(12) % 4,
    }
    np.savez(path, **{**defaults, **arrays})
    return path


def test_a_three_dimensional_uint8_array_is_a_one_channel_image(tmp_path: Path) -> None:
    flat = load_data("npz", data_path=_write_npz(tmp_path / "flat.npz"))
    assert flat.x_train.shape == (40, 1, 8, 8) and flat.x_test.shape == (12, 1, 8, 8) and flat.is_image
    with_channel = np.load(tmp_path / "flat.npz")
    _write_npz(
        tmp_path / "channel.npz",
        x_train=with_channel["x_train"][:, None],
        x_test=with_channel["x_test"][:, None],
    )
    assert torch.equal(flat.x_train, load_data("npz", data_path=tmp_path / "channel.npz").x_train)


def test_both_image_layouts_train_bit_for_bit_the_same(tmp_path: Path) -> None:
    """(N, H, W) and (N, 1, H, W) of the same pixels are the same trial: same inputs, same statistics, same
    numbers."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    # (N, 8, 8) uint8, as array dumps store grayscale
    images = (digits.images * 16).clip(0, 255).astype(np.uint8)
    arrays = {
        "x_train": images[:1200],
        "y_train": digits.target[:1200],
        "x_test": images[1200:],
        "y_test": digits.target[1200:],
    }
    np.savez(tmp_path / "hw.npz", **arrays)
    np.savez(
        tmp_path / "chw.npz", **{**arrays, "x_train": images[:1200, None], "x_test": images[1200:, None]}
    )
    histories = [
        train(
            TrainConfig(
                dataset="npz",
                data_path=str(tmp_path / name),
                model="mlp",
                epochs=3,
                alpha=1.0,
                label_noise=0.3,
            )
        ).history
        for name in ("hw.npz", "chw.npz")
    ]
    # the same digest of what was trained on; only the file read differs
    assert histories[0][0]["dataset_digest"] == histories[1][0]["dataset_digest"]
    assert [histories[0][0]["dataset_source"], histories[1][0]["dataset_source"]] == [
        str(tmp_path / "hw.npz"),
        str(tmp_path / "chw.npz"),
    ]
    for history in histories:
        del history[0]["dataset_source"]
    assert histories[0] == histories[1]
    assert histories[0][0]["input_shape"] == "1x8x8" and histories[0][0]["normalisation"].startswith(
        "per-channel"
    )


def test_feature_standardisation_is_standard_scalers_and_centres_constant_features_only() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 6)) * [1, 3, 0.01, 50, 1, 1] + [0, 5, -2, 1e4, 0, 0]
    x[:, 4] = 7.0  # constant
    x[:, 5] = 0.0  # constant at zero
    ours = Normalisation.fit(torch.from_numpy(x).float())
    oracle = StandardScaler().fit(x.astype(np.float32))
    assert np.allclose(ours.mean.numpy(), oracle.mean_, rtol=1e-6, atol=1e-6)
    assert np.allclose(ours.scale.numpy(), oracle.scale_, rtol=1e-5)
    assert ours.centred_only == 2 and ours.scale[4] == 1 and ours.scale[5] == 1
    unseen = torch.tensor([[0, 5, -2, 1e4, 7 + 300.0, 2.0]])
    assert ours(unseen)[0, 4] == pytest.approx(300.0) and ours(unseen)[0, 5] == pytest.approx(2.0), (
        "centred, not divided by a zero std"
    )


@pytest.mark.parametrize(("spread", "scaled"), [(3 * NEAR_CONSTANT, True), (NEAR_CONSTANT / 3, False)])
def test_the_near_constant_threshold_is_relative_to_the_features_magnitude(
    spread: float, scaled: bool
) -> None:
    """A feature of magnitude 1000 whose std is on either side of NEAR_CONSTANT x 1000."""
    values = 1000.0 + 1000.0 * spread * np.tile([-1.0, 1.0], 50)  # std = 1000 * spread exactly (ddof=0)
    x = torch.from_numpy(np.stack([values, np.linspace(0, 1, 100)], axis=1))
    normalisation = Normalisation.fit(x)
    assert (float(normalisation.scale[0]) != 1.0) == scaled
    assert normalisation.centred_only == (0 if scaled else 1)
    if scaled:
        # features are float32
        assert float(normalisation.scale[0]) == pytest.approx(1000.0 * spread, rel=1e-4)


def test_images_get_per_channel_statistics() -> None:
    x = torch.zeros(10, 3, 4, 4, dtype=torch.uint8)
    x[:, 0] = 255
    x[::2, 1] = 255
    normalisation = Normalisation.fit(x)
    assert normalisation.mean.flatten().tolist() == pytest.approx([1.0, 0.5, 0.0])
    assert normalisation.scale.flatten().tolist() == pytest.approx([1.0, 0.5, 1.0]), (
        "constant channels centred only"
    )
    assert normalisation.centred_only == 2 and normalisation.per_channel


# Each bad npz: the arrays that differ from a good file, and what the one line must say.
BAD_NPZ = {
    "lengths differ": ({"y_train": np.arange(39) % 4}, "x_train has 40 examples but y_train has 39 labels"),
    "negative label": (
        {"y_train": np.r_[-1, np.arange(39) % 4]},
        "y_train holds the label -1; labels must be integers in [0, 4)",
    ),
    "test class unseen in training": (
        {"y_test": np.r_[np.arange(11) % 4, 6]},
        "y_test holds classes that y_train never does (6)",
    ),
    "NaN features": (
        {"x_train": np.where(np.eye(40, 8)[:, :, None] > 0, np.nan, 1.0).repeat(8, 2)},
        "x_train holds NaN or infinite values (first in example 0)",
    ),
    "infinite features": (
        {"x_test": np.r_[np.ones((11, 8, 8)), np.full((1, 8, 8), np.inf)]},
        "x_test holds NaN or infinite values (first in example 11)",
    ),
    "string features": ({"x_train": np.array([["a"] * 8] * 40)}, "x_train has dtype <U1; expected numbers"),
    "fractional labels": (
        {"y_train": np.arange(40) % 4 + 0.5},
        "y_train must hold integer class labels; got dtype float64 with fractional values",
    ),
    "shapes differ between splits": (
        {"x_test": np.zeros((12, 7, 7), np.uint8)},
        "x_test has examples of shape (1, 7, 7), x_train of shape (1, 8, 8)",
    ),
    "one-dimensional features": (
        {"x_train": np.zeros(40), "x_test": np.zeros(12)},
        "x_train has shape (40,); expected (N, features), (N, H, W) or (N, C, H, W)",
    ),
    "one class only": (
        {"y_train": np.zeros(40, int), "y_test": np.zeros(12, int)},
        "needs at least 2 classes; got 1",
    ),
}


@pytest.mark.parametrize("case", BAD_NPZ)
def test_a_bad_npz_is_one_line_naming_the_file_and_the_problem(case: str, tmp_path: Path) -> None:
    arrays, expected = BAD_NPZ[case]
    path = _write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DatasetError) as error:
        load_data("npz", data_path=path)
    message = str(error.value)
    assert "\n" not in message and str(path) in message and expected in message, message


def test_integral_float_labels_are_labels(tmp_path: Path) -> None:
    data = load_data(
        "npz", data_path=_write_npz(tmp_path / "ok.npz", y_train=(np.arange(40) % 4).astype(np.float32))
    )
    assert data.y_train.dtype == torch.int64 and data.num_classes == 4


def _corrupt_files(root: Path) -> dict[str, tuple[str, dict[str, object], str]]:
    """Files that cannot be read, each as (dataset, load_data options, text the error must hold)."""
    good = _write_npz(root / "good.npz").read_bytes()
    (root / "not-a-zip.npz").write_bytes(b"\x00junk" * 100)
    (root / "truncated.npz").write_bytes(good[: len(good) // 2])
    np.save(root / "one-array.npy", np.zeros(3))
    (root / "one-array.npz").write_bytes((root / "one-array.npy").read_bytes())
    fashion = root / "fashion" / "fashion-mnist"
    fashion.mkdir(parents=True)
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        # a gzip stream cut short
        (fashion / f"{name}.gz").write_bytes(gzip.compress(np.random.default_rng(0).bytes(4000))[:200])
    not_idx = root / "not-idx" / "fashion-mnist"
    not_idx.mkdir(parents=True)
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        # whole gzip streams, but not idx files inside
        (not_idx / f"{name}.gz").write_bytes(gzip.compress(b"\x00" * 4000))
    (root / "tar").mkdir()
    (root / "tar" / "cifar10-jpg.tar.gz").write_bytes(gzip.compress(b"not a tar archive" * 50))
    tree = root / "images"
    for split in ("train", "test"):
        for label in ("a", "b"):
            (tree / split / label).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8)).save(tree / split / label / f"{i}.png")
    # a PNG cut short
    (tree / "train" / "a" / "0.png").write_bytes((tree / "train" / "a" / "0.png").read_bytes()[:30])
    pickles = root / "pickles" / "cifar-100-python"
    pickles.mkdir(parents=True)
    batch = pickle.dumps({"data": np.zeros((4, 3072), np.uint8), "fine_labels": [0, 1, 0, 1]})
    (pickles / "train").write_bytes(batch[: len(batch) // 2])
    (pickles / "test").write_bytes(batch)
    return {
        "an npz that is not a zip": ("npz", {"data_path": root / "not-a-zip.npz"}, "cannot read"),
        "a truncated npz": ("npz", {"data_path": root / "truncated.npz"}, "cannot read"),
        "an .npy under an .npz name": (
            "npz",
            {"data_path": root / "one-array.npz"},
            "is not an .npz archive",
        ),
        "a truncated gz": ("fashion_mnist", {"data_root": root / "fashion"}, "cannot read"),
        "a gz that holds no idx file": ("fashion_mnist", {"data_root": root / "not-idx"}, "cannot read"),
        "a gz that is not a tar": ("cifar10", {"data_root": root / "tar"}, "cannot read"),
        "a truncated image": ("imagefolder", {"data_path": tree}, "cannot read"),
        "a truncated pickle": ("cifar100", {"data_root": root / "pickles"}, "cannot read"),
    }


def test_every_kind_of_corrupt_file_is_one_line_and_caches_nothing(
    tmp_path: Path, isolated_cache: Path
) -> None:
    for case, (dataset, options, expected) in _corrupt_files(tmp_path).items():
        with pytest.raises(DatasetError) as error:
            load_data(dataset, **options)  # type: ignore[arg-type]
        message = str(error.value)
        assert "\n" not in message and f"dataset {dataset!r}" in message and expected in message, (
            case,
            message,
        )
    assert not list(isolated_cache.glob("*.pt")), "nothing half-written to the cache"
    assert not (isolated_cache / "FashionMNIST").exists(), (
        "no idx file copied from a bad .gz is kept to stand in for a good one"
    )


@pytest.mark.parametrize("shape", [(300, 3, 5, 4), (300, 17)])
def test_byte_histograms_give_the_same_statistics_as_floats(shape: tuple[int, ...]) -> None:
    """uint8 inputs take their statistics from per-channel histograms; numpy's float64 mean and std of x / 255
    are the oracle."""
    x = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    x[:, 1] = 9  # a constant channel or feature
    axes = (0, 2, 3) if len(shape) == 4 else (0,)
    ours = Normalisation.fit(torch.from_numpy(x))
    oracle_mean, oracle_std = (x / 255).mean(axis=axes), (x / 255).std(axis=axes)
    assert np.allclose(ours.mean.flatten().numpy(), oracle_mean, rtol=1e-6, atol=0)
    expected_scale = np.where(np.arange(shape[1]) == 1, 1.0, oracle_std)
    assert (
        np.allclose(ours.scale.flatten().numpy(), expected_scale, rtol=1e-6, atol=0)
        and ours.centred_only == 1
    )
    as_floats = Normalisation.fit(torch.from_numpy(x / 255).float())
    assert torch.allclose(as_floats.mean, ours.mean) and torch.allclose(as_floats.scale, ours.scale)
