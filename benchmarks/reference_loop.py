"""The trainable against a loop written the way the authors' released code trains, side by side in one run.

    python benchmarks/reference_loop.py                       # CPU: small CNN, 10k CIFAR-10 images, 4 epochs,
    2 seeds
    python benchmarks/reference_loop.py --device cuda --model preact_resnet18 --train-subset 50000 --epochs 3

The reference loop is the released CIFAR-10 mixup code's way of training
(facebookresearch/mixup-cifar10, ``train.py``): a torchvision-style dataset
that makes a PIL image of every example, ``RandomCrop(32, padding=4)``,
``RandomHorizontalFlip``, ``ToTensor`` and ``Normalize`` per sample, a
``DataLoader`` (batch 128, shuffled, worker processes), lambda from numpy, the
permutation with ``torch.randperm``, each batch copied to the device, and a test
pass through a second ``DataLoader`` (batch 100) every epoch.

The trainable is ``trainables.Trial``: the dataset held as a uint8 tensor on the
device, crop and flip done in batches there, lambda as a Python number, batched
evaluation under ``inference_mode``, channels_last, and (``--precision``) autocast.
Each epoch ends with the same test pass for both (10,000 images).

Both train the same model on the same images with the same optimiser (SGD 0.1,
momentum 0.9, weight decay 1e-4, alpha = 1) for the same epochs. Epochs
alternate between the two, so drift in the machine's speed falls on both alike.
Reported: median seconds per epoch (training, and training plus test pass),
training images per second, the ratio, and each one's final test error, so that
"faster" is only claimed at the same accuracy.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from trainables import Splits, TrainConfig, Trial, build_model, load_data

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)  # the released code's constants


class ArrayImages(torch.utils.data.Dataset):
    """torchvision's CIFAR10 ``__getitem__``: an HWC uint8 array made a PIL image, then the transform."""

    def __init__(self, images: Tensor, labels: Tensor, transform: Any) -> None:
        self.images = images.permute(0, 2, 3, 1).numpy()  # stored NCHW; PIL wants HWC
        self.labels = labels.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        from PIL import Image

        return self.transform(Image.fromarray(self.images[index])), self.labels[index]


class ReferenceLoop:
    """The released code's training loop, one epoch per call."""

    def __init__(
        self, splits: Splits, model_name: str, seed: int, device: torch.device, workers: int, alpha: float
    ) -> None:
        from torchvision import transforms

        torch.manual_seed(seed)
        np.random.seed(seed)  # the released code draws lambda from numpy's global generator
        normalise = transforms.Normalize(CIFAR_MEAN, CIFAR_STD)
        train_tf = transforms.Compose(
            [
                transforms.RandomCrop(32, padding=4),
                transforms.RandomHorizontalFlip(),
                transforms.ToTensor(),
                normalise,
            ]
        )
        test_tf = transforms.Compose([transforms.ToTensor(), normalise])
        self.train_loader = torch.utils.data.DataLoader(
            ArrayImages(splits.x_train, splits.y_train, train_tf),
            batch_size=128,
            shuffle=True,
            num_workers=workers,
        )
        self.test_loader = torch.utils.data.DataLoader(
            ArrayImages(splits.x_test, splits.y_test, test_tf),
            batch_size=100,
            shuffle=False,
            num_workers=workers,
        )
        self.model: nn.Module = build_model(model_name, splits.input_shape, splits.num_classes).to(device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        self.device, self.alpha = device, alpha

    def train_epoch(self) -> None:
        self.model.train()
        for inputs, targets in self.train_loader:
            inputs, targets = inputs.to(self.device), targets.to(self.device)
            lam = np.random.beta(self.alpha, self.alpha) if self.alpha > 0 else 1.0
            index = torch.randperm(inputs.size(0)).to(self.device)
            mixed = lam * inputs + (1 - lam) * inputs[index, :]
            outputs = self.model(mixed)
            loss = lam * F.cross_entropy(outputs, targets) + (1 - lam) * F.cross_entropy(
                outputs, targets[index]
            )
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()

    def test_error(self) -> float:
        self.model.eval()
        wrong = total = 0
        with torch.no_grad():
            for inputs, targets in self.test_loader:
                inputs, targets = inputs.to(self.device), targets.to(self.device)
                wrong += int((self.model(inputs).argmax(1) != targets).sum())
                total += len(targets)
        return 100.0 * wrong / total


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(device: torch.device, step: Any) -> tuple[float, Any]:
    _synchronise(device)
    start = time.perf_counter()
    value = step()
    _synchronise(device)
    return time.perf_counter() - start, value


def compare(splits: Splits, args: argparse.Namespace, seed: int) -> dict[str, dict[str, Any]]:
    device = torch.device(args.device)
    reference = ReferenceLoop(splits, args.model, seed, device, args.workers, args.alpha)
    config = TrainConfig(
        dataset=args.dataset,
        data_path=args.data_path,
        model=args.model,
        batch_size=128,
        alpha=args.alpha,
        epochs=args.epochs,
        seed=seed,
        device=args.device,
        precision=args.precision,
        optimizer={"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4},
    )
    trial = Trial(config, splits)
    loops: dict[str, dict[str, Any]] = {
        name: {"train_s": [], "epoch_s": []} for name in ("reference", "trainable")
    }

    def reference_epoch() -> float:
        train_s, _ = _timed(device, reference.train_epoch)
        test_s, error = _timed(device, reference.test_error)
        loops["reference"]["train_s"].append(train_s)
        loops["reference"]["epoch_s"].append(train_s + test_s)
        return error

    def trainable_epoch() -> float:
        train_s, _ = _timed(device, trial.train_epoch)
        trial.scheduler.step()
        # The same test pass as the reference's (``evaluate`` would also measure the training set's error).
        test_s, predictions = _timed(device, lambda: trial.predict(trial.x_test))
        loops["trainable"]["train_s"].append(train_s)
        loops["trainable"]["epoch_s"].append(train_s + test_s)
        return 100.0 * float((predictions != trial.y_test).double().mean())

    for epoch in range(args.epochs):
        order = (reference_epoch, trainable_epoch) if epoch % 2 == 0 else (trainable_epoch, reference_epoch)
        errors = {step.__name__: step() for step in order}
        print(
            f"  seed {seed} epoch {epoch + 1}: test error reference {errors['reference_epoch']:.1f}%, "
            f"trainable {errors['trainable_epoch']:.1f}%",
            flush=True,
        )
    loops["reference"]["test_error"], loops["trainable"]["test_error"] = (
        errors["reference_epoch"],
        errors["trainable_epoch"],
    )
    return loops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="cnn", help="a trainables model name (default: the small CNN)")
    parser.add_argument(
        "--dataset",
        default="cifar10",
        help="a trainables dataset of 32x32 colour images (default: the JPEG CIFAR-10)",
    )
    parser.add_argument(
        "--data-path", default=None, help="the file, for --dataset npz (smoke tests use a small one)"
    )
    parser.add_argument("--train-subset", type=int, default=10000, help="training images")
    parser.add_argument(
        "--test-subset",
        type=int,
        default=None,
        help="a fixed random N of the test images (default: all 10,000); for smoke tests",
    )
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument(
        "--precision",
        default="auto",
        help="the trainable's: auto (bf16 on CUDA, fp32 on CPU), fp32, bf16, fp16",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="the reference DataLoader's worker processes (the released code used 8)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    splits = load_data(args.dataset, data_path=args.data_path, train_subset=args.train_subset)
    if args.test_subset is not None:
        # the files are in class order
        chosen = torch.randperm(len(splits.y_test), generator=torch.Generator().manual_seed(0))[
            : args.test_subset
        ]
        splits = dataclasses.replace(splits, x_test=splits.x_test[chosen], y_test=splits.y_test[chosen])
    print(
        f"{args.dataset}, {len(splits.y_train)} training images, model {args.model}, {args.epochs} epochs x "
        f"{args.seeds} seeds, "
        f"device {args.device}, trainable precision {args.precision}, reference workers {args.workers}, "
        f"torch threads {torch.get_num_threads()}",
        flush=True,
    )
    runs = [compare(splits, args, seed) for seed in range(args.seeds)]
    summary: dict[str, dict[str, float]] = {}
    for name in ("reference", "trainable"):
        # the first epoch warms up
        train_s = statistics.median(
            s for run in runs for s in run[name]["train_s"][1:] or run[name]["train_s"]
        )
        epoch_s = statistics.median(
            s for run in runs for s in run[name]["epoch_s"][1:] or run[name]["epoch_s"]
        )
        errors = [run[name]["test_error"] for run in runs]
        summary[name] = {
            "train_s": train_s,
            "epoch_s": epoch_s,
            "train_images_per_s": len(splits.y_train) / train_s,
            "final_test_error_mean": statistics.fmean(errors),
            "final_test_errors": errors,
        }
    ratio_train = summary["reference"]["train_s"] / summary["trainable"]["train_s"]
    ratio_epoch = summary["reference"]["epoch_s"] / summary["trainable"]["epoch_s"]
    for name, row in summary.items():
        print(
            f"{name:9s}: {row['train_s']:.2f} s training ({row['train_images_per_s']:.0f} images/s), "
            f"{row['epoch_s']:.2f} s per epoch with the test pass, "
            f"final test error {row['final_test_error_mean']:.1f}% "
            f"({', '.join(f'{e:.1f}' for e in row['final_test_errors'])})"
        )
    print(
        f"speed-up of the trainable: {ratio_train:.2f}x on training, {ratio_epoch:.2f}x per epoch (target: "
        ">= 2 on CPU, >= 3 on GPU)"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": vars(args) | {"json": str(args.json)},
                    "torch": torch.__version__,
                    "summary": summary,
                    "speedup_train": ratio_train,
                    "speedup_epoch": ratio_epoch,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
