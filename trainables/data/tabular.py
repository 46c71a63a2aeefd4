"""Tabular datasets: scikit-learn's bundled ``digits`` and ``iris``, and the UCI sets of the paper's
Table 4 (Section 3.6), from their usual files under ``<data root>/uci/``.

Each loader gives float32 features and labels 0..K-1 (the classes present, in
sorted order). Train and test splits:

- ``arcene``: the challenge's own ``train`` (100) and ``valid`` (100) sets;
- the others: a stratified 80/20 split with the fixed ``SPLIT_SEED`` (plain,
  when a class has a single example), the same for every trial.

Missing values (``?`` in ``arrhythmia``) are filled with the training split's
column median. Features are standardised in the trial, with training
statistics, like every dataset. ``iris`` (Table 4's sixth) is scikit-learn's
copy of the same file.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..errors import DatasetError
from ._common import cached, missing
from ._splits import SPLIT_SEED, Source, Splits


def train_test_split(x: np.ndarray, y: np.ndarray, test_fraction: float) -> Splits:
    """The fixed, stratified split of a tabular dataset (``SPLIT_SEED``), the same for every trial.

    Labels are renumbered 0..K-1 over the classes present. A class with a
    single example (abalone's rarest ring counts) goes to training: tested
    only, it could never be learnt. The others are split in proportion.
    """
    train, test, labels, classes = split_rows(y, test_fraction)
    return tabular_splits(x[train], labels[train], x[test], labels[test], classes)


def split_rows(y: np.ndarray, test_fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``train_test_split``'s rows: the training and test row indices, the labels renumbered 0..K-1, and K."""
    from sklearn.model_selection import train_test_split as stratified_split

    classes, labels = np.unique(y, return_inverse=True)
    single = np.bincount(labels)[labels] == 1
    rest = np.flatnonzero(~single)
    # With no single-example class this is the same call, and the same split, as on the whole set.
    share = test_fraction if not single.any() else test_fraction * len(labels) / len(rest)
    train, test = stratified_split(rest, test_size=share, random_state=SPLIT_SEED, stratify=labels[rest])
    return np.concatenate([train, np.flatnonzero(single)]), test, labels, len(classes)


def tabular_splits(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, num_classes: int
) -> Splits:
    """Float32 features and int64 labels; missing values (NaN) take the training split's column median."""
    if np.isnan(x_train).any() or np.isnan(x_test).any():
        median = np.nanmedian(x_train, axis=0)
        median = np.where(np.isnan(median), 0.0, median)  # a column missing in every training row
        x_train, x_test = (
            np.where(np.isnan(x_train), median, x_train),
            np.where(np.isnan(x_test), median, x_test),
        )
    as_features = lambda x: torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    as_labels = lambda y: torch.from_numpy(np.asarray(y, dtype=np.int64))
    return Splits(
        as_features(x_train), as_labels(y_train), as_features(x_test), as_labels(y_test), num_classes
    )


def _sklearn_data_file(name: str) -> Path:
    """A file bundled with scikit-learn, found without importing it (the import alone takes about a
    second)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError("the scikit-learn datasets need scikit-learn installed (pip install scikit-learn)")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / name


def _digits(source: Source) -> Splits:
    """scikit-learn's 1,797 8x8 handwritten digits (UCI), 0-16 grey levels; 25% held out for test."""

    def build() -> Splits:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = (digits.images / 16.0)[:, None]  # (N, 1, 8, 8) in [0, 1]
        return train_test_split(images, digits.target, test_fraction=0.25)

    return cached(source, "digits", _sklearn_data_file("digits.csv.gz"), build)


def _iris(source: Source) -> Splits:
    """scikit-learn's 150 iris flowers, 4 features; 30% held out for test."""

    def build() -> Splits:
        from sklearn.datasets import load_iris

        iris = load_iris()
        return train_test_split(iris.data, iris.target, test_fraction=0.3)

    return cached(source, "iris", _sklearn_data_file("iris.csv"), build)


TEST_FRACTION = 0.2


def _uci(name: str, files: tuple[str, ...], build: Callable[[Path], Splits]) -> Callable[[Source], Splits]:
    def load(source: Source) -> Splits:
        folder = source.data_root / "uci" / name
        if not all((folder / file).exists() for file in files):
            raise missing(name, " and ".join(str(folder / file) for file in files))
        return cached(source, name, folder, lambda: build(folder))

    return load


def _abalone(folder: Path) -> Splits:
    """4,177 abalones: sex (one-hot M/F/I) and 7 measurements; the class is the number of rings (28
    present)."""
    rows = [line.split(",") for line in (folder / "abalone.data").read_text().split()]
    sex = np.array([[row[0] == s for s in "MFI"] for row in rows], dtype=np.float64)
    measures = np.array([row[1:8] for row in rows], dtype=np.float64)
    return train_test_split(
        np.hstack([sex, measures]), np.array([int(row[8]) for row in rows]), TEST_FRACTION
    )


def _arcene(folder: Path) -> Splits:
    """Mass spectra, 10,000 features, cancer or not; the challenge's train and valid sets (100 each)."""
    read = lambda split: (
        np.loadtxt(folder / f"arcene_{split}.data"),
        np.loadtxt(folder / f"arcene_{split}.labels"),
    )
    (x_train, y_train), (x_test, y_test) = read("train"), read("valid")
    return tabular_splits(x_train, (y_train > 0).astype(np.int64), x_test, (y_test > 0).astype(np.int64), 2)


def _arrhythmia(folder: Path) -> Splits:
    """452 ECGs, 279 features with '?' for missing values; 13 of the 16 classes are present."""
    data = np.genfromtxt(folder / "arrhythmia.data", delimiter=",", missing_values="?", filling_values=np.nan)
    return train_test_split(data[:, :-1], data[:, -1].astype(np.int64), TEST_FRACTION)


def _htru2(folder: Path) -> Splits:
    """17,898 pulsar candidates, 8 features, pulsar or not."""
    data = np.loadtxt(folder / "HTRU_2.csv", delimiter=",")
    return train_test_split(data[:, :-1], data[:, -1].astype(np.int64), TEST_FRACTION)


def _phishing(folder: Path) -> Splits:
    """11,055 websites, 30 features in {-1, 0, 1}, phishing or not (ARFF; the rows after ``@data``)."""
    text = (folder / "phishing.arff").read_text()
    rows = text[text.lower().index("@data") + len("@data") :].split()
    data = np.array([row.split(",") for row in rows if not row.startswith("%")], dtype=np.float64)
    return train_test_split(data[:, :-1], data[:, -1].astype(np.int64), TEST_FRACTION)


# the UCI datasets' loaders, by the names trainables.catalogue declares them under
_uci_abalone = _uci("abalone", ("abalone.data",), _abalone)
_uci_arcene = _uci(
    "arcene", tuple(f"arcene_{s}.{k}" for s in ("train", "valid") for k in ("data", "labels")), _arcene
)
_uci_arrhythmia = _uci("arrhythmia", ("arrhythmia.data",), _arrhythmia)
_uci_htru2 = _uci("htru2", ("HTRU_2.csv",), _htru2)
_uci_phishing = _uci("phishing", ("phishing.arff",), _phishing)
