"""The in-memory classifier trial: whole splits on the device, mixed batch by batch or an epoch at once.

``Trial(config)`` loads its dataset (``trainables.data``), keeps it on the
device as stored (uint8 images, float features) and normalises per batch.
The training step and the epoch loop are ``ClassifierTrial``'s; this module
says what an epoch's minibatches are:

- ERM (alpha = 0, the method's own off, or a ``mixup_warmup_epochs`` epoch): the batches as stored,
  augmented;
- otherwise each batch mixed by the trial's method (``trainables.mixing``), which may draw partners
  beyond the batch (``mix_examples``: mixup's second loader);
- without augmentation, when it fits and the method can: the whole epoch mixed at once, from the same
  draws (``MixMethod.mix_epoch``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor

from ..adversarial import attack_errors, craft
from ..augment import crop_and_flip
from ..calibration import calibration
from ..config import NOISE_OOD, TrainConfig
from ..data import SPLIT_SEED, Splits, load_data
from ..errors import ConfigError
from ..metrics import evaluate_metrics
from ..mixing import MixedBatch
from ..normalise import Normalisation, as_unit_range
from ._classifier import ClassifierTrial
from ._common import EVAL_BATCH, Metrics, percent_wrong
from ._evaluation import (
    as_stored_images,
    calibration_metrics,
    corruption_metrics,
    noise_images,
    ood_report,
    shift_metrics,
)

PREMIX_MAX_ELEMENTS = 2**26  # floats (256 MB): above this an epoch is mixed batch by batch


class Trial(ClassifierTrial):
    """A classifier trial on an in-memory dataset: data on the device, model, optimiser, schedule and every
    RNG."""

    def __init__(self, config: TrainConfig, splits: Splits | None = None) -> None:
        splits = splits or load_data(
            config.dataset,
            config.data_root,
            config.data_path,
            config.train_subset,
            config.val_fraction,
            config.download,
            config.label_column,
            config.split_column,
            config.test_subset,
        )
        if config.evaluation.corruptions and not (splits.is_image and splits.x_test.dtype == torch.uint8):
            raise ConfigError(
                "evaluation.corruptions", f"corrupt images; dataset {config.dataset!r} gives feature vectors"
            )
        super().__init__(config, splits.y_train, splits.num_classes, splits.input_shape, splits.is_image)
        self.augment = (
            config.augment
            if config.augment is not None
            else (splits.is_image and splits.input_shape[0] == 3 and splits.input_shape[1] == 32)
        )
        self.lineage = self.dataset_description(splits.origin, splits.digest(), splits.shapes())
        if splits.label_names:  # what each class index stands for, where the data named them (csv, parquet)
            self.lineage["dataset_labels"] = ", ".join(splits.label_names)
        self.x_train, self.x_test, self.y_test = (
            splits.x_train.to(self.device),
            splits.x_test.to(self.device),
            splits.y_test.to(self.device),
        )
        self.x_val = None if splits.x_val is None else splits.x_val.to(self.device)
        self.y_val = None if splits.y_val is None else splits.y_val.to(self.device)
        self.normalisation = Normalisation.fit(self.x_train)
        self.mixer = self._build_mixer()  # last: a method in pixel space (AugMix) needs the statistics

    def input_description(self) -> dict[str, str]:
        described = {
            "input_shape": "x".join(map(str, self.x_train.shape[1:])),
            "normalisation": self.normalisation.describe(),
        }
        return {**described, **self.noise_description(), **self.lineage}

    def _batch_inputs(self, idx: Tensor) -> Tensor:
        """The stored examples at ``idx``, cropped and flipped when the trial augments, as normalised inputs
        (with Cutout's squares, when it cuts out)."""
        x = self.x_train[idx]
        return self.cut_out(self.inputs(crop_and_flip(x, self.augment_gen) if self.augment else x))

    examples_in_memory = True

    def mix_examples(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        return self._batch_inputs(idx), self.y_train[idx]

    def minibatches(self) -> Iterator[MixedBatch]:
        batches = self.shuffled_batches(self.device)
        mixer = self.mixer
        if not mixer.mixes(self.epoch):  # ERM: alpha 0 (or the method's own off), or a warm-up epoch
            for idx in batches:
                yield MixedBatch.unmixed(self._batch_inputs(idx), self.y_train[idx])
            return
        if batches and self._premixes():
            premixed = mixer.method.mix_epoch(batches, mixer.method.context, self.draws)
            if premixed is not None:
                yield from premixed
                return
        mixer.method.start_epoch(self.draws)
        for idx in batches:
            yield mixer.batch(self._batch_inputs(idx), self.y_train[idx])

    def _premixes(self) -> bool:
        """Whether the method may mix the whole epoch at once (``MixMethod.mix_epoch``): nothing is drawn
        per batch beside its draws (no augmentation, Cutout or coin per batch), and the epoch fits.

        On small models, mixup's dozen small operations per batch were a fifth
        of the epoch (benchmarks/mixup_overhead.py); mixed once per epoch, what
        is left per batch is what ERM does: one slice and one cross-entropy.
        """
        size = len(self.y_train) * (math.prod(self.x_train.shape[1:]) + self.num_classes)
        config = self.config
        drawn_per_batch = self.augment or config.cutout > 0 or config.mix_prob < 1
        return not drawn_per_batch and size <= PREMIX_MAX_ELEMENTS

    @torch.inference_mode()
    def logits(self, x: Tensor) -> Tensor:
        """The model's logits on stored examples ``x``, in evaluation batches.

        Always in fp32, whatever the training precision: errors (and the attacks and
        in-between measures, which go through ``forward_unit_range``) are the paper's
        numbers, and bf16's rounding of near-tied logits would move them.
        """
        self.model.eval()
        return torch.cat(
            [self.model(self.inputs(x[i : i + EVAL_BATCH])) for i in range(0, len(x), EVAL_BATCH)]
        )

    def predict(self, x: Tensor, top: int = 1) -> Tensor:
        """The class indices ranked first (shape (N,)), or the ``top`` first (shape (N, top))."""
        ranked = self.logits(x).topk(top, dim=1).indices
        return ranked[:, 0] if top == 1 else ranked

    def evaluate(self) -> Metrics:
        logits = self.logits(self.x_test)
        if self.num_classes > 5:  # top-5 as well (the paper's ImageNet tables), from the same forward pass
            ranked = logits.topk(5, dim=1).indices
            metrics = {
                "test_error": percent_wrong(ranked[:, 0] != self.y_test),
                "test_error_top5": percent_wrong((ranked != self.y_test[:, None]).all(1)),
            }
        else:
            metrics = {"test_error": percent_wrong(logits.topk(1, dim=1).indices[:, 0] != self.y_test)}
        calibrated, self.reliability = calibration(logits, self.y_test)
        metrics.update(calibrated)
        if self.config.metrics:  # the user's own, on the same logits (registered by plugins)
            last = self.epoch >= self.config.epochs
            metrics.update(evaluate_metrics(self.config.metrics, logits, self.y_test, last))
        train_wrong = self.predict(self.x_train) != self.y_train
        metrics["train_error_real"] = percent_wrong(train_wrong[~self.selected])
        if self.config.label_noise > 0:  # measured against the corrupted labels, as the paper does
            metrics["train_error_corrupted"] = percent_wrong(train_wrong[self.selected])
        val_logits = None
        if self.x_val is not None and self.y_val is not None:
            val_logits = self.logits(self.x_val)
            metrics["val_error"] = percent_wrong(val_logits.topk(1, dim=1).indices[:, 0] != self.y_val)
        if self.config.evaluation.calibration:
            metrics.update(calibration_metrics(logits, self.y_test, val_logits, self.y_val))
        return metrics

    def shifted(self) -> Metrics:
        """After the last epoch: the corrupted test images and the out-of-distribution sets the config
        names (``trainables.tasks._evaluation``)."""
        settings, metrics = self.config.evaluation, {}
        if settings.corruptions:
            from ..image_corruptions import corrupted  # scipy.ndimage and PIL: only for a trial that corrupts

            count = min(settings.corruption_images or len(self.y_test), len(self.y_test))
            images, labels = self.x_test[:count].cpu().numpy(), self.y_test[:count]
            key = f"{self.lineage['dataset_digest']}-{count}"

            def corrupted_images(name: str, severity: int) -> Tensor:
                return torch.from_numpy(corrupted(images, name, severity, key=key)).to(self.device)

            clean = shift_metrics(self.logits(self.x_test[:count]), labels, "corruption_clean")
            metrics.update(
                corruption_metrics(
                    clean,
                    labels,
                    settings.corruption_names(),
                    settings.severities,
                    corrupted_images,
                    self.logits,
                )
            )
        if settings.ood:
            inside = self.logits(self.x_test)
            for name in settings.ood:
                outside = self.logits(self._ood_examples(name, settings.ood_images))
                metrics.update(ood_report(inside, outside, name))
        return metrics

    def _ood_examples(self, name: str, count: int) -> Tensor:
        """The first ``count`` test examples of dataset ``name``, as this trial's are stored (images
        converted to its channels and resized to its side), or ``count`` of uniform noise."""
        shape = tuple(self.x_test.shape[1:])
        if name == NOISE_OOD:
            return noise_images(self.x_train, count, SPLIT_SEED + 2).to(self.device)
        config = self.config
        other = load_data(name, config.data_root).x_test[:count]
        if other.dtype == torch.uint8 and self.x_test.dtype == torch.uint8 and other.dim() == 4:
            return as_stored_images(other, shape).to(self.device)
        if tuple(other.shape[1:]) != shape or other.dtype != self.x_test.dtype:
            raise ConfigError(
                "evaluation.ood",
                f"{name}'s examples ({'x'.join(map(str, other.shape[1:]))}, {other.dtype}) cannot stand "
                f"for this trial's ({'x'.join(map(str, shape))}, {self.x_test.dtype})",
            )
        return other.to(self.device)

    def forward_unit_range(self, x: Tensor) -> Tensor:
        """The model in eval mode on inputs in [0, 1]: what the attacks differentiate."""
        self.model.eval()
        return self.model(self.normalised(x))

    def attack_subset(self) -> tuple[Tensor, Tensor]:
        """A fixed test subset (the same for every trial of a dataset), in [0, 1], with its true labels."""
        count = min(self.config.adversarial_examples, len(self.y_test))
        chosen = torch.randperm(len(self.y_test), generator=torch.Generator().manual_seed(SPLIT_SEED))[
            :count
        ].to(self.device)
        return as_unit_range(self.x_test[chosen]), self.y_test[chosen]

    def white_box(self) -> Metrics:
        """Each model attacks itself: FGSM and I-FGSM error, top-1 (and top-5 with more than 5 classes)."""
        x, y = self.attack_subset()
        examples = craft(self.forward_unit_range, x, y, self.config.adversarial_epsilon)
        return attack_errors(self.forward_unit_range, examples, y, self.num_classes, prefix="white_box")
