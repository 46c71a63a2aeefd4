"""Image datasets: Fashion-MNIST, CIFAR-10 and CIFAR-100 in their usual layouts, and a user's image tree.

All decode whole splits into uint8 (N, C, H, W) tensors, cached.
"""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DatasetError
from ._common import cached, missing
from ._splits import Source, Splits

_FASHION_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _fashion_mnist(source: Source) -> Splits:
    """Fashion-MNIST through torchvision, from its own layout or from the four .gz files."""
    from torchvision.datasets import FashionMNIST

    root = source.data_root
    if not (root / "FashionMNIST" / "raw" / _FASHION_FILES[0]).exists():
        gz_dir = next(
            (d for d in (root / "fashion-mnist", root) if (d / f"{_FASHION_FILES[0]}.gz").exists()), None
        )
        root = source.cache
        raw = root / "FashionMNIST" / "raw"
        if gz_dir is not None and not (raw / _FASHION_FILES[-1]).exists():
            raw.mkdir(parents=True, exist_ok=True)
            for name in _FASHION_FILES:  # torchvision wants the uncompressed idx files
                with gzip.open(gz_dir / f"{name}.gz") as src, open(raw / f"{name}.part", "wb") as dst:
                    shutil.copyfileobj(src, dst)
                os.replace(raw / f"{name}.part", raw / name)
        elif gz_dir is None and not source.download:
            raise missing("fashion_mnist", f"{source.data_root}/fashion-mnist/{_FASHION_FILES[0]}.gz")

    def build() -> Splits:
        try:
            train = FashionMNIST(str(root), train=True, download=source.download)
            test = FashionMNIST(str(root), train=False, download=source.download)
        except AssertionError as error:  # torchvision's idx parser checks the header with asserts
            raise ValueError("not idx files (the MNIST format) inside") from error
        return Splits(
            train.data[:, None].contiguous(),
            train.targets.long(),
            test.data[:, None].contiguous(),
            test.targets.long(),
            10,
        )

    try:
        return cached(source, "fashion_mnist", root, build)
    except DatasetError:
        # the idx files copied from bad .gz files must not stand in for good ones later
        if root == source.cache:
            shutil.rmtree(root / "FashionMNIST", ignore_errors=True)
        raise


def _cifar10(source: Source) -> Splits:
    """CIFAR-10 from torchvision's python batches, an ImageFolder tree, or a .tar.gz of that tree."""
    pickles = source.data_root / "cifar-10-batches-py"
    if source.download and not (pickles / "test_batch").exists():
        from torchvision.datasets import CIFAR10

        CIFAR10(str(source.data_root), train=True, download=True)
    if pickles.is_dir():
        train_files = [f"data_batch_{i}" for i in range(1, 6)]
        return cached(
            source,
            "cifar10",
            pickles,
            lambda: _cifar_pickles(pickles, train_files, "test_batch", "labels", 10),
        )
    return _image_tree_or_archive(source, "cifar10", str(pickles))


def _cifar100(source: Source) -> Splits:
    """CIFAR-100's 100 fine labels from torchvision's python pickles, an ImageFolder tree, or a .tar.gz of
    that tree."""
    pickles = source.data_root / "cifar-100-python"
    if source.download and not (pickles / "train").exists():
        from torchvision.datasets import CIFAR100

        CIFAR100(str(source.data_root), train=True, download=True)
    if (pickles / "train").exists():
        return cached(
            source,
            "cifar100",
            pickles,
            lambda: _cifar_pickles(pickles, ["train"], "test", "fine_labels", 100),
        )
    return _image_tree_or_archive(source, "cifar100", str(pickles))


def _cifar_pickles(
    folder: Path, train_files: list[str], test_file: str, label_key: str, classes: int
) -> Splits:
    """The python pickles, read as torchvision reads them, without its checksum of each whole file
    (which would refuse any copy but the original: a subset, or the tests' tiny files)."""

    def read(names: list[str]) -> tuple[Tensor, Tensor]:
        images, labels = [], []
        for name in names:
            with open(folder / name, "rb") as file:
                entry = pickle.load(file, encoding="latin1")
            images.append(torch.from_numpy(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)))
            labels.append(torch.tensor(entry[label_key], dtype=torch.int64))
        return torch.cat(images), torch.cat(labels)

    (x_train, y_train), (x_test, y_test) = read(train_files), read([test_file])
    return Splits(x_train, y_train, x_test, y_test, classes)


def _image_tree_or_archive(source: Source, name: str, other_layout: str) -> Splits:
    """``<root>/<name>-jpg/{train,test}/<class>/``, else the archive ``<root>/<name>-jpg.tar.gz`` of that
    tree."""
    tree, archive = source.data_root / f"{name}-jpg", source.data_root / f"{name}-jpg.tar.gz"
    if (tree / "train").is_dir():
        return cached(source, name, tree, lambda: _decode_train_test_folders(tree))
    if not archive.exists():
        raise missing(name, f"{other_layout}, {tree}/{{train,test}}/<class>/ or {archive}")
    return cached(source, name, archive, lambda: _decode_archive(archive, source.cache))


def _imagefolder(source: Source) -> Splits:
    """A user's tree: <data_path>/{train,test}/<class>/<image>, all images of one size."""
    path = source.data_path
    if path is None or not (path / "train").is_dir() or not (path / "test").is_dir():
        raise missing("imagefolder", f"{path}/train/<class>/ and {path}/test/<class>/")
    return cached(source, "imagefolder", path, lambda: _decode_train_test_folders(path))


def _decode_archive(archive: Path, cache: Path) -> Splits:
    """``<top>/{train,test}/<class>/<image>`` inside a tar archive, in ImageFolder's order (classes, then file
    names, sorted).

    All-JPEG archives are decoded straight from memory; others are extracted next to the cache first.
    """
    from torchvision.datasets.folder import IMG_EXTENSIONS
    from torchvision.io import ImageReadMode, decode_jpeg

    members: dict[tuple[str, str, str], bytes] = {}  # (split, class, file name) -> bytes
    with tarfile.open(archive, "r|*") as tar:  # one sequential pass: no seeking in the compressed stream
        for member in tar:
            # flat class folders, as the CIFAR archives have
            parts = member.name.removeprefix("./").split("/")
            if (
                member.isfile()
                and len(parts) == 4
                and parts[1] in ("train", "test")
                and parts[3].lower().endswith(IMG_EXTENSIONS)
            ):
                members[(parts[1], parts[2], parts[3])] = tar.extractfile(member).read()  # type: ignore[union-attr]
    splits = {}
    for split in ("train", "test"):
        keys = sorted(key for key in members if key[0] == split)
        classes = sorted({key[1] for key in keys})
        if not keys:
            raise DatasetError(f"{archive}: expected <top>/train/<class>/ and <top>/test/<class>/ inside")
        data = [torch.frombuffer(bytearray(members.pop(key)), dtype=torch.uint8) for key in keys]
        try:
            images = decode_jpeg(data, mode=ImageReadMode.RGB)
        except RuntimeError:  # not all JPEG: PIL reads the extracted tree
            with tempfile.TemporaryDirectory(dir=cache if cache.exists() else None) as tmp:
                with tarfile.open(archive) as tar:
                    tar.extractall(tmp, filter="data")
                tops = [p for p in Path(tmp).iterdir() if (p / "train").is_dir()]
                return _decode_train_test_folders(tops[0])
        if len({tuple(image.shape) for image in images}) != 1:
            raise DatasetError(f"{archive}: images differ in size; resize them to one size first")
        splits[split] = (torch.stack(images), torch.tensor([classes.index(key[1]) for key in keys]), classes)
    if splits["train"][2] != splits["test"][2]:
        raise DatasetError(f"{archive}: train and test have different class folders")
    return Splits(
        splits["train"][0], splits["train"][1], splits["test"][0], splits["test"][1], len(splits["train"][2])
    )


def _imagefolder_stream(source: Source) -> Splits:
    raise DatasetError(
        "dataset 'imagefolder_stream' is read from disk batch by batch (trainables.data.streaming): it has "
        "no in-memory splits"
    )


def _decode_train_test_folders(path: Path) -> Splits:
    x_train, y_train, classes = _decode_folder(path / "train")
    x_test, y_test, test_classes = _decode_folder(path / "test")
    if test_classes != classes:
        raise DatasetError(f"{path}: train and test have different class folders")
    return Splits(x_train, y_train, x_test, y_test, len(classes))


def _decode_folder(path: Path) -> tuple[Tensor, Tensor, list[str]]:
    from PIL import Image
    from torchvision.datasets import ImageFolder
    from torchvision.io import ImageReadMode, decode_jpeg, read_file

    folder = ImageFolder(str(path))
    files = [file for file, _ in folder.samples]

    def with_pil(file: str) -> Tensor:
        with Image.open(file) as image:
            return torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)  # a writable copy

    try:
        # All JPEG (CIFAR-10, ImageNet): one batched call to torchvision's libjpeg-turbo decoder gives the
        # same pixels as PIL (checked on CIFAR-10) ten times faster on small images.
        images = decode_jpeg([read_file(file) for file in files], mode=ImageReadMode.RGB)
    except RuntimeError:  # another format among them (PNG, BMP, ...)
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            images = list(pool.map(with_pil, files, chunksize=256))
    shapes = {tuple(image.shape[1:]) for image in images}
    if len(shapes) != 1:
        raise DatasetError(
            f"{path}: images differ in size ({sorted(shapes)[:3]}...); resize them to one size first"
        )
    return torch.stack(images).contiguous(), torch.tensor(folder.targets, dtype=torch.int64), folder.classes
