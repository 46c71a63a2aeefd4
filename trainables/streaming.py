"""ImageNet-sized image folders, read from disk batch by batch: the ``imagefolder_stream`` dataset.

``imagefolder`` decodes a whole tree into memory at one image size, which
fits CIFAR-sized data, not ImageNet's 1.28M images (Section 3.1). This reads
``<data_path>/train/<class>/*`` and ``<data_path>/val/<class>/*`` (or
``test/``) the way torchvision's ImageNet recipe does: files decoded in
DataLoader worker processes, a random-resized crop of ``crop_size`` and a
horizontal flip for training, a resize to 8/7 of ``crop_size`` and a centre
crop for evaluation, per-channel ImageNet normalisation. mixup, the optimiser
and everything else are the in-memory trial's (``Trial``), on the device.

Reproducibility: the order of each epoch comes from the trial's shuffling
generator; each image's crop and flip from a seed drawn once per epoch from
its augmentation generator, combined with the image's index. So a streamed
trial resumes bit for bit at an epoch boundary, whatever the number of workers.

Evaluation streams the whole test split. Training error on real labels is
measured on a fixed subset of the training images (``TRAIN_EVAL_IMAGES``,
centre-cropped): a full pass over 1.28M images per epoch would cost as much
as training.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from .config import TrainConfig
from .data import SPLIT_SEED
from .errors import DatasetError, first_line
from .device import configure_determinism, resolve_device
from .loop import EVAL_BATCH, Metrics, Trial
from .mixup import training_loss
from .normalise import Normalisation

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
TRAIN_EVAL_IMAGES = 10_000  # training images (a fixed draw) on which train_error_real is measured each epoch


def scan(data_path: str | Path) -> tuple[list[str], list[str], Tensor, list[str], Tensor]:
    """The classes, and the training and test files with their labels; a DatasetError names what is missing."""
    from torchvision.datasets import ImageFolder

    root = Path(data_path).expanduser()
    test_dir = next((root / name for name in ("val", "test") if (root / name).is_dir()), None)
    if not (root / "train").is_dir() or test_dir is None:
        raise DatasetError(f"dataset 'imagefolder_stream': expected {root}/train/<class>/ and {root}/val/<class>/ (or test/)")
    try:
        train, test = ImageFolder(str(root / "train")), ImageFolder(str(test_dir))
    except (FileNotFoundError, OSError) as error:
        raise DatasetError(f"dataset 'imagefolder_stream': {first_line(error, 1000)}") from None
    if train.classes != test.classes:
        raise DatasetError(f"dataset 'imagefolder_stream': {root}/train and {test_dir} have different class folders")
    return (train.classes, [f for f, _ in train.samples], torch.tensor(train.targets), [f for f, _ in test.samples], torch.tensor(test.targets))


class ImageFiles(Dataset):
    """Image ``index`` as a uint8 (3, crop, crop) tensor, with its index; augmented from (epoch seed, index) when training."""

    def __init__(self, files: list[str], crop_size: int, train: bool) -> None:
        from torchvision.transforms import v2

        self.files = files
        self.epoch_seed = 0
        resize = v2.Resize(round(crop_size * 8 / 7), antialias=True)  # 256 for 224, as torchvision's recipe
        self.transform = v2.Compose([v2.RandomResizedCrop(crop_size, antialias=True), v2.RandomHorizontalFlip()] if train else [resize, v2.CenterCrop(crop_size)])
        self.train = train

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        from torchvision.io import ImageReadMode, decode_image

        image = decode_image(self.files[index], mode=ImageReadMode.RGB)
        if not self.train:
            return self.transform(image), index
        # torchvision draws its crop and flip from torch's global generator: seeded here per image, and restored after.
        seed = int(np.random.SeedSequence([self.epoch_seed, index]).generate_state(1)[0])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.transform(image), index


class StreamingTrial(Trial):
    """``Trial`` with its images on disk: batches are decoded by DataLoader workers, then mixed and trained on the device."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        configure_determinism(config.deterministic, self.device)
        classes, train_files, train_labels, test_files, test_labels = scan(config.data_path or "")
        if config.train_subset is not None and config.train_subset < len(train_files):
            keep = torch.randperm(len(train_files), generator=torch.Generator().manual_seed(SPLIT_SEED))[: config.train_subset]
            train_files, train_labels = [train_files[i] for i in keep.tolist()], train_labels[keep]
        self.num_classes = len(classes)
        self.augment = False  # the workers crop and flip; nothing is left to do on the device
        self._seed_generators()
        self._corrupt_labels(train_labels)
        self.y_train_true, self.y_test, self.x_val = train_labels.to(self.device), test_labels.to(self.device), None
        size = config.crop_size
        self.train_images, self.train_eval_images, self.test_images = ImageFiles(train_files, size, True), ImageFiles(train_files, size, False), ImageFiles(test_files, size, False)
        self.train_eval = torch.randperm(len(train_files), generator=torch.Generator().manual_seed(SPLIT_SEED))[:TRAIN_EVAL_IMAGES].sort().values
        mean, std = (torch.tensor(values, device=self.device).view(3, 1, 1) for values in (IMAGENET_MEAN, IMAGENET_STD))
        self.normalisation = Normalisation(mean, std, per_channel=True, centred_only=0, origin="ImageNet (torchvision's constants)")
        self._build_model((3, size, size), is_image=True)

    def input_description(self) -> dict[str, str]:
        size = self.config.crop_size
        return {"input_shape": f"3x{size}x{size}", "normalisation": self.normalisation.describe(), **self.noise_description()}

    def _loader(self, images: ImageFiles, batches: list[list[int]]) -> DataLoader:
        workers = self.config.loader_workers
        return DataLoader(images, batch_sampler=batches, num_workers=workers, pin_memory=self.device.type == "cuda",
                          prefetch_factor=4 if workers else None)  # fmt: skip

    def _device_batches(self, images: ImageFiles, batches: list[list[int]]) -> Iterator[tuple[Tensor, Tensor]]:
        """(normalised inputs, indices) on the device, batch by batch."""
        for x, index in self._loader(images, batches):
            index = index.to(self.device, non_blocking=True)
            yield self.inputs(x.to(self.device, non_blocking=True)), index

    def train_epoch(self) -> float:
        self.model.train()
        n, batch = len(self.y_train), self.config.batch_size
        order = torch.randperm(n, generator=self.shuffle_gen)
        batches = [b for b in (order[start : start + batch].tolist() for start in range(0, n, batch)) if len(b) >= 2]
        self.train_images.epoch_seed = int(torch.randint(2**62, (1,), generator=self.augment_gen))
        warm_up = self.epoch < self.config.mixup_warmup_epochs
        loss_sum, seen = torch.zeros((), device=self.device), 0
        for x, index in self._device_batches(self.train_images, batches):
            y = self.y_train[index]
            with self.autocast():
                loss = F.cross_entropy(self.train_forward(x), y) if warm_up else training_loss(self.train_forward, x, y, self.mixup)
            self.optimizer.zero_grad(set_to_none=True)
            self.grad_scaler.scale(loss).backward()
            self.grad_scaler.step(self.optimizer)
            self.grad_scaler.update()
            self.scheduler.step_iteration()
            loss_sum += loss.detach() * len(index)
            seen += len(index)
        return float(loss_sum) / max(seen, 1)

    @torch.inference_mode()
    def _ranked(self, images: ImageFiles, indices: list[int], top: int) -> Tensor:
        """The ``top`` classes ranked first for each image, in ``indices`` order."""
        self.model.eval()
        batches = [indices[start : start + EVAL_BATCH] for start in range(0, len(indices), EVAL_BATCH)]
        ranked = []
        for x, _ in self._device_batches(images, batches):  # fp32, as Trial.predict
            ranked.append(self.model(x).topk(top, dim=1).indices)
        return torch.cat(ranked)

    def evaluate(self) -> Metrics:
        error = lambda wrong: 100.0 * float(wrong.double().mean()) if wrong.numel() else math.nan  # noqa: E731
        top = 5 if self.num_classes > 5 else 1
        ranked = self._ranked(self.test_images, list(range(len(self.y_test))), top)
        metrics = {"test_error": error(ranked[:, 0] != self.y_test)}
        if top == 5:
            metrics["test_error_top5"] = error((ranked != self.y_test[:, None]).all(1))
        subset = self.train_eval.to(self.device)
        wrong = self._ranked(self.train_eval_images, self.train_eval.tolist(), 1)[:, 0] != self.y_train[subset]
        metrics["train_error_real"] = error(wrong[~self.selected[subset]])
        if self.config.label_noise > 0:
            metrics["train_error_corrupted"] = error(wrong[self.selected[subset]])
        return metrics

    def white_box(self) -> Metrics:  # refused by TrainConfig already; a guard for direct use
        raise NotImplementedError("adversarial attacks need an in-memory dataset")

