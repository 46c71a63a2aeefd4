"""The UCI tabular datasets of the paper's Table 4 (Section 3.6), from their usual files under ``<data root>/uci/``.

Each loader gives float32 features and labels 0..K-1 (the classes present, in
sorted order). Train and test splits:

- ``arcene``: the challenge's own ``train`` (100) and ``valid`` (100) sets;
- the others: a stratified 80/20 split with the fixed ``SPLIT_SEED`` (plain,
  when a class has a single example), the same for every trial.

Missing values (``?`` in ``arrhythmia``) are filled with the training split's
column median. Features are standardised in the trial, with training
statistics, like every dataset. ``iris`` (Table 4's sixth) is scikit-learn's
copy of the same file, registered in ``trainables.data``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .data import Source, Splits, _cached, _missing, _tabular_splits, _train_test_split, register_dataset

TEST_FRACTION = 0.2


def _uci(name: str, files: tuple[str, ...], build: Callable[[Path], Splits]) -> Callable[[Source], Splits]:
    def load(source: Source) -> Splits:
        folder = source.data_root / "uci" / name
        if not all((folder / file).exists() for file in files):
            raise _missing(name, " and ".join(str(folder / file) for file in files))
        return _cached(source, name, folder, lambda: build(folder))

    return load


def _abalone(folder: Path) -> Splits:
    """4,177 abalones: sex (one-hot M/F/I) and 7 measurements; the class is the number of rings (28 present)."""
    rows = [line.split(",") for line in (folder / "abalone.data").read_text().split()]
    sex = np.array([[row[0] == s for s in "MFI"] for row in rows], dtype=np.float64)
    measures = np.array([row[1:8] for row in rows], dtype=np.float64)
    return _train_test_split(np.hstack([sex, measures]), np.array([int(row[8]) for row in rows]), TEST_FRACTION)


def _arcene(folder: Path) -> Splits:
    """Mass spectra, 10,000 features, cancer or not; the challenge's train and valid sets (100 each)."""
    read = lambda split: (np.loadtxt(folder / f"arcene_{split}.data"), np.loadtxt(folder / f"arcene_{split}.labels"))  # noqa: E731
    (x_train, y_train), (x_test, y_test) = read("train"), read("valid")
    return _tabular_splits(x_train, (y_train > 0).astype(np.int64), x_test, (y_test > 0).astype(np.int64), 2)


def _arrhythmia(folder: Path) -> Splits:
    """452 ECGs, 279 features with '?' for missing values; 13 of the 16 classes are present."""
    data = np.genfromtxt(folder / "arrhythmia.data", delimiter=",", missing_values="?", filling_values=np.nan)
    return _train_test_split(data[:, :-1], data[:, -1].astype(np.int64), TEST_FRACTION)


def _htru2(folder: Path) -> Splits:
    """17,898 pulsar candidates, 8 features, pulsar or not."""
    data = np.loadtxt(folder / "HTRU_2.csv", delimiter=",")
    return _train_test_split(data[:, :-1], data[:, -1].astype(np.int64), TEST_FRACTION)


def _phishing(folder: Path) -> Splits:
    """11,055 websites, 30 features in {-1, 0, 1}, phishing or not (ARFF; the rows after ``@data``)."""
    text = (folder / "phishing.arff").read_text()
    rows = text[text.lower().index("@data") + len("@data") :].split()
    data = np.array([row.split(",") for row in rows if not row.startswith("%")], dtype=np.float64)
    return _train_test_split(data[:, :-1], data[:, -1].astype(np.int64), TEST_FRACTION)


register_dataset("abalone")(_uci("abalone", ("abalone.data",), _abalone))
register_dataset("arcene")(_uci("arcene", tuple(f"arcene_{s}.{k}" for s in ("train", "valid") for k in ("data", "labels")), _arcene))
register_dataset("arrhythmia")(_uci("arrhythmia", ("arrhythmia.data",), _arrhythmia))
register_dataset("htru2")(_uci("htru2", ("HTRU_2.csv",), _htru2))
register_dataset("phishing")(_uci("phishing", ("phishing.arff",), _phishing))
