"""Tiny datasets written in the real formats, so that every loader is tested without the offline datasets.

Each writer lays its files out exactly as the real dataset ships them (file
names, headers, encodings) and returns what the loader should find: the
arrays it wrote, in the order the loader must give them back.
"""

from __future__ import annotations

import gzip
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np


def write_cifar_pickles(
    root: Path, name: str = "cifar10", per_file: int = 6, classes: int = 4
) -> dict[str, np.ndarray]:
    """torchvision's python-pickle layout: ``cifar-10-batches-py/data_batch_1..5, test_batch`` (key
    ``labels``),
    or ``cifar-100-python/train, test`` (key ``fine_labels``); rows of 3,072 uint8 values, channel-major."""
    rng = np.random.default_rng(1)
    folder, files, key = (
        (root / "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], "labels")
        if name == "cifar10"
        else (root / "cifar-100-python", ["train", "test"], "fine_labels")
    )
    folder.mkdir(parents=True)
    written: dict[str, list[np.ndarray]] = {"train": [], "test": [], "y_train": [], "y_test": []}
    for file in files:
        split = "test" if file in ("test_batch", "test") else "train"
        count = per_file * (5 if name == "cifar100" and split == "train" else 1)
        data, labels = (
            rng.integers(0, 256, (count, 3072), dtype=np.uint8),
            (np.arange(count) % classes).tolist(),
        )
        with open(folder / file, "wb") as handle:
            pickle.dump({"batch_label": file, key: labels, "data": data}, handle)
        written[split].append(data.reshape(-1, 3, 32, 32))
        written[f"y_{split}"].append(np.array(labels))
    return {
        "x_train": np.concatenate(written["train"]),
        "y_train": np.concatenate(written["y_train"]),
        "x_test": np.concatenate(written["test"]),
        "y_test": np.concatenate(written["y_test"]),
    }


def write_idx_gz(root: Path, train: int = 30, test: int = 10) -> dict[str, np.ndarray]:
    """Fashion-MNIST's four idx files, gzipped, in ``<root>/fashion-mnist/`` (magic 2051 for images, 2049 for
    labels)."""
    rng = np.random.default_rng(2)
    folder = root / "fashion-mnist"
    folder.mkdir(parents=True)
    arrays = {
        "x_train": rng.integers(0, 256, (train, 28, 28), dtype=np.uint8),
        "y_train": np.arange(train) % 10,
        "x_test": rng.integers(0, 256, (test, 28, 28), dtype=np.uint8),
        "y_test": np.arange(test) % 10,
    }
    for prefix, x, y in (
        ("train", arrays["x_train"], arrays["y_train"]),
        ("t10k", arrays["x_test"], arrays["y_test"]),
    ):
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(struct.pack(">IIII", 2051, len(x), 28, 28) + x.tobytes())
        )
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(struct.pack(">II", 2049, len(y)) + y.astype(np.uint8).tobytes())
        )
    return arrays


def write_uci(root: Path) -> dict[str, np.ndarray]:
    """The five UCI files of Table 4 as their repositories ship them, small; returns each one's raw feature
    rows."""
    rng = np.random.default_rng(3)
    uci = root / "uci"
    rows: dict[str, np.ndarray] = {}
    (uci / "abalone").mkdir(parents=True)
    # ring 29 alone
    sexes, measures, rings = (
        rng.choice(list("MFI"), 40),
        rng.random((40, 7)).round(4),
        np.r_[np.arange(39) % 3 + 5, 29],
    )
    (uci / "abalone" / "abalone.data").write_text(
        "".join(f"{s},{','.join(map(str, m))},{r}\n" for s, m, r in zip(sexes, measures, rings))
    )
    rows["abalone"] = measures
    (uci / "arcene").mkdir()
    for split, count in (("train", 12), ("valid", 8)):
        data = rng.integers(0, 1000, (count, 50))
        data[:, 0] = 0  # a feature constant in training, as Arcene has 80
        (uci / "arcene" / f"arcene_{split}.data").write_text(
            "".join(" ".join(map(str, row)) + " \n" for row in data)
        )
        (uci / "arcene" / f"arcene_{split}.labels").write_text(
            "".join(f"{label}\n" for label in np.where(np.arange(count) % 2, 1, -1))
        )
        rows[f"arcene_{split}"] = data
    (uci / "arrhythmia").mkdir()
    data = rng.integers(-20, 200, (30, 12)).astype(object)
    data[::3, 5] = "?"  # missing values
    labels = np.arange(30) % 3 + 1
    (uci / "arrhythmia" / "arrhythmia.data").write_text(
        "".join(",".join(map(str, row)) + f",{label}\n" for row, label in zip(data, labels))
    )
    rows["arrhythmia"] = data
    (uci / "htru2").mkdir()
    data = rng.normal(size=(30, 8)) * 50
    (uci / "htru2" / "HTRU_2.csv").write_text(
        "".join(",".join(f"{v:.8g}" for v in row) + f",{i % 2}\n" for i, row in enumerate(data))
    )
    rows["htru2"] = data
    (uci / "phishing").mkdir()
    data = rng.integers(-1, 2, (30, 30))
    header = (
        "@relation phishing\n\n"
        + "".join(f"@attribute f{i}  {{ -1,0,1 }}\n" for i in range(30))
        + "@attribute Result  {-1,1}\n\n\n@data\n"
    )
    (uci / "phishing" / "phishing.arff").write_text(
        header + "".join(",".join(map(str, row)) + f",{1 if i % 2 else -1}\n" for i, row in enumerate(data))
    )
    rows["phishing"] = data
    return rows


def write_speech_archive(root: Path, speakers: int = 30) -> Path:
    """``speech-commands-v0.02-test-flac.tar.gz``: ``<top>/<label>/<speaker>_nohash_<n>.flac``, 16 kHz mono, 1
    s (and one 0.5 s clip)."""
    import soundfile

    build = root / "build" / "speech-commands-v0.02-test-flac"
    rng = np.random.default_rng(4)
    for word, frequency in (("yes", 300.0), ("no", 900.0), ("_silence_", 0.0)):
        (build / word).mkdir(parents=True)
        for speaker in range(speakers):
            seconds = 0.5 if speaker == 0 else 1.0
            t = np.arange(int(seconds * 16_000)) / 16_000
            wave = 0.3 * np.sin(2 * np.pi * frequency * t) + 0.01 * rng.standard_normal(len(t))
            soundfile.write(
                build / word / f"{speaker:08x}_nohash_0.flac", wave.astype(np.float32), 16_000, format="FLAC"
            )
    archive = root / "speech-commands-v0.02-test-flac.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(build, arcname=build.name)
    return archive
