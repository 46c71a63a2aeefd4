"""The streamed classifier trial: ImageNet-sized image folders (``imagefolder_stream``), read from disk batch
by batch.

Files are decoded, cropped and flipped in DataLoader worker processes
(``trainables.data.streaming``); mixup, the optimiser, the training step and
everything else are ``ClassifierTrial``'s, on the device.

Evaluation streams the whole test split. Training error on real labels is
measured on a fixed subset of the training images (``TRAIN_EVAL_IMAGES``,
centre-cropped): a full pass over 1.28M images per epoch would cost as much
as training.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from ..calibration import example_scores, summarise
from ..config import TrainConfig
from ..data import SPLIT_SEED
from ..data.streaming import IMAGENET_MEAN, IMAGENET_STD, TRAIN_EVAL_IMAGES, ImageFiles, scan
from ..errors import ConfigError
from ..mixing import MixedBatch
from ..normalise import Normalisation
from ._classifier import ClassifierTrial
from ._common import EVAL_BATCH, Metrics, percent_wrong


class StreamingTrial(ClassifierTrial):
    """A classifier trial with its images on disk: batches are decoded by DataLoader workers, then mixed and
    trained on the device."""

    def __init__(self, config: TrainConfig) -> None:
        if config.test_subset is not None:
            raise ConfigError("test_subset", "is for in-memory datasets; a streamed one reads all its tests")
        classes, train_files, train_labels, test_files, test_labels = scan(config.data_path or "")
        if config.train_subset is not None and config.train_subset < len(train_files):
            keep = torch.randperm(len(train_files), generator=torch.Generator().manual_seed(SPLIT_SEED))[
                : config.train_subset
            ]
            train_files, train_labels = [train_files[i] for i in keep.tolist()], train_labels[keep]
        size = config.crop_size
        super().__init__(config, train_labels, len(classes), (3, size, size), is_image=True)
        # a digest of the file lists and labels, not of the pixels: reading every image here would cost more
        # than an epoch
        listing = hashlib.blake2b(digest_size=8)
        for files, labels in ((train_files, train_labels), (test_files, test_labels)):
            listing.update("\n".join(files).encode() + b"\0" + labels.numpy().tobytes())
        shapes = f"train {len(train_files)} files, test {len(test_files)} files (decoded to 3x{size}x{size})"
        self.lineage = self.dataset_description(str(config.data_path), listing.hexdigest(), shapes)
        self.y_test = test_labels.to(self.device)
        self.train_images, self.train_eval_images, self.test_images = (
            ImageFiles(train_files, size, True),
            ImageFiles(train_files, size, False),
            ImageFiles(test_files, size, False),
        )
        self.train_eval = (
            torch.randperm(len(train_files), generator=torch.Generator().manual_seed(SPLIT_SEED))[
                :TRAIN_EVAL_IMAGES
            ]
            .sort()
            .values
        )
        mean, std = (
            torch.tensor(values, device=self.device).view(3, 1, 1) for values in (IMAGENET_MEAN, IMAGENET_STD)
        )
        self.normalisation = Normalisation(
            mean, std, per_channel=True, centred_only=0, origin="ImageNet (torchvision's constants)"
        )
        self.mixer = self._build_mixer()  # last: a method in pixel space (AugMix) needs the statistics

    def input_description(self) -> dict[str, str]:
        size = self.config.crop_size
        return {
            "input_shape": f"3x{size}x{size}",
            "normalisation": self.normalisation.describe(),
            **self.noise_description(),
            **self.lineage,
        }

    def _loader(self, images: ImageFiles, batches: list[list[int]]) -> DataLoader:
        workers = self.config.loader_workers
        return DataLoader(
            images,
            batch_sampler=batches,
            num_workers=workers,
            pin_memory=self.device.type == "cuda",
            prefetch_factor=4 if workers else None,
        )

    def _device_batches(
        self, images: ImageFiles, batches: list[list[int]]
    ) -> Iterator[tuple[Tensor, Tensor]]:
        """(normalised inputs, indices) on the device, batch by batch."""
        for x, index in self._loader(images, batches):
            index = index.to(self.device, non_blocking=True)
            yield self.inputs(x.to(self.device, non_blocking=True)), index

    def minibatches(self) -> Iterator[MixedBatch]:
        """Decoded, cropped and flipped by the loader's workers, then mixed on the device."""
        batches = [idx.tolist() for idx in self.shuffled_batches()]
        self.train_images.epoch_seed = int(torch.randint(2**62, (1,), generator=self.augment_gen))
        mixes = self.mixer.mixes(self.epoch)
        if mixes:
            self.mixer.method.start_epoch(self.draws)
        for x, index in self._device_batches(self.train_images, batches):
            x, y = self.cut_out(x), self.y_train[index]
            yield self.mixer.batch(x, y) if mixes else MixedBatch.unmixed(x, y)

    @torch.inference_mode()
    def _ranked(
        self, images: ImageFiles, indices: list[int], top: int, labels: Tensor | None = None
    ) -> tuple[Tensor, list[Tensor]]:
        """The ``top`` classes ranked first for each image, in ``indices`` order; with ``labels``, each
        image's calibration scores as well (``example_scores``), batch by batch."""
        self.model.eval()
        batches = [indices[start : start + EVAL_BATCH] for start in range(0, len(indices), EVAL_BATCH)]
        ranked, scores, start = [], [], 0
        for x, _ in self._device_batches(images, batches):  # fp32, as Trial.logits
            logits = self.model(x)
            ranked.append(logits.topk(top, dim=1).indices)
            if labels is not None:
                scores.append(example_scores(logits, labels[start : start + len(x)]))
            start += len(x)
        return torch.cat(ranked), [torch.cat(parts) for parts in zip(*scores)]

    def evaluate(self) -> Metrics:
        top = 5 if self.num_classes > 5 else 1
        ranked, scores = self._ranked(self.test_images, list(range(len(self.y_test))), top, self.y_test)
        metrics = {"test_error": percent_wrong(ranked[:, 0] != self.y_test)}
        if top == 5:
            metrics["test_error_top5"] = percent_wrong((ranked != self.y_test[:, None]).all(1))
        calibrated, self.reliability = summarise(*scores)
        metrics.update(calibrated)
        subset = self.train_eval.to(self.device)
        wrong = (
            self._ranked(self.train_eval_images, self.train_eval.tolist(), 1)[0][:, 0] != self.y_train[subset]
        )
        metrics["train_error_real"] = percent_wrong(wrong[~self.selected[subset]])
        if self.config.label_noise > 0:
            metrics["train_error_corrupted"] = percent_wrong(wrong[self.selected[subset]])
        return metrics
