"""ImageNet-sized image folders, read from disk batch by batch: the files of the ``imagefolder_stream``
dataset.

``imagefolder`` decodes a whole tree into memory at one image size, which
fits CIFAR-sized data, not ImageNet's 1.28M images (Section 3.1). This reads
``<data_path>/train/<class>/*`` and ``<data_path>/val/<class>/*`` (or
``test/``) the way torchvision's ImageNet recipe does: files decoded in
DataLoader worker processes, a random-resized crop of ``crop_size`` and a
horizontal flip for training, a resize to 8/7 of ``crop_size`` and a centre
crop for evaluation, per-channel ImageNet normalisation. The trial that trains
on them is ``trainables.tasks.stream.StreamingTrial``.

Reproducibility: the order of each epoch comes from the trial's shuffling
generator; each image's crop and flip from a seed drawn once per epoch from
its augmentation generator, combined with the image's index. So a streamed
trial resumes bit for bit at an epoch boundary, whatever the number of workers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..errors import DatasetError, first_line

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
TRAIN_EVAL_IMAGES = (
    10_000  # training images (a fixed draw) on which train_error_real is measured each epoch (not all 1.28M)
)


def scan(data_path: str | Path) -> tuple[list[str], list[str], Tensor, list[str], Tensor]:
    """The classes, and the training and test files with their labels; a DatasetError names what is
    missing."""
    from torchvision.datasets import ImageFolder

    root = Path(data_path).expanduser()
    test_dir = next((root / name for name in ("val", "test") if (root / name).is_dir()), None)
    if not (root / "train").is_dir() or test_dir is None:
        raise DatasetError(
            f"dataset 'imagefolder_stream': expected {root}/train/<class>/ and {root}/val/<class>/ (or test/)"
        )
    try:
        train, test = ImageFolder(str(root / "train")), ImageFolder(str(test_dir))
    except (FileNotFoundError, OSError) as error:
        raise DatasetError(f"dataset 'imagefolder_stream': {first_line(error, 1000)}") from None
    if train.classes != test.classes:
        raise DatasetError(
            f"dataset 'imagefolder_stream': {root}/train and {test_dir} have different class folders"
        )
    return (
        train.classes,
        [f for f, _ in train.samples],
        torch.tensor(train.targets),
        [f for f, _ in test.samples],
        torch.tensor(test.targets),
    )


class ImageFiles(Dataset):
    """Image ``index`` as a uint8 (3, crop, crop) tensor, with its index; augmented from (epoch seed, index)
    when training."""

    def __init__(self, files: list[str], crop_size: int, train: bool) -> None:
        from torchvision.transforms import v2

        self.files = files
        self.epoch_seed = 0
        resize = v2.Resize(round(crop_size * 8 / 7), antialias=True)  # 256 for 224, as torchvision's recipe
        self.transform = v2.Compose(
            [v2.RandomResizedCrop(crop_size, antialias=True), v2.RandomHorizontalFlip()]
            if train
            else [resize, v2.CenterCrop(crop_size)]
        )
        self.train = train

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        from torchvision.io import ImageReadMode, decode_image

        image = decode_image(self.files[index], mode=ImageReadMode.RGB)
        if not self.train:
            return self.transform(image), index
        # torchvision draws its crop and flip from torch's global generator:
        # seeded here per image, and restored after.
        seed = int(np.random.SeedSequence([self.epoch_seed, index]).generate_state(1)[0])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.transform(image), index
