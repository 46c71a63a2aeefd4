"""What evaluation costs (issue 31): an epoch's evaluation with and without the calibration of
``evaluation.calibration`` (temperature scaling fit on the validation split included), set against the
training epoch, and the once-only evaluations after the last epoch (corrupted test images, out-of-distribution
sets), side by side in one process.

    python benchmarks/evaluation_overhead.py                 # CPU, the regularisers-small setting
    python benchmarks/evaluation_overhead.py --device cuda --rounds 11

Each round times one training epoch, then ``Trial.evaluate`` with calibration off and on (their order
alternating), so that drift in the machine's speed falls on both alike; the ratios are of the medians. The
corruptions are timed twice: on a cold cache (generated) and a warm one (read back). Needs torch and the
offline datasets only (no Ray, no MLflow).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from trainables import TrainConfig, Trial

SETTING: dict[str, object] = {  # sweeps/regularisers-small.yaml's trial, with mixup
    "dataset": "fashion_mnist",
    "model": "cnn_narrow",
    "train_subset": 3000,
    "test_subset": 2000,
    "val_fraction": 0.1,
    "batch_size": 32,
    "alpha": 1.0,
    "optimizer": {"name": "adam", "lr": 1e-2, "weight_decay": 0},
}


def _seconds(work: object, device: torch.device) -> float:
    started = time.perf_counter()
    work()  # type: ignore[operator]
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--corruption-images", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(1)  # a trial's share of a 2-core machine, as in a sweep
    config = TrainConfig.from_dict({**SETTING, "device": args.device, "epochs": args.rounds + 1})
    off = dataclasses.replace(config.evaluation, calibration=False)
    trial = Trial(config)
    device = trial.device
    train_s, plain_s, calibrated_s = [], [], []
    for round_ in range(args.rounds):
        train_s.append(_seconds(trial.train_epoch, device))
        trial.epoch += 1
        order = [(off, plain_s), (config.evaluation, calibrated_s)]
        for settings, times in order if round_ % 2 else order[::-1]:
            trial.config = dataclasses.replace(config, evaluation=settings)
            times.append(_seconds(trial.evaluate, device))
    trial.config = config
    medians = {
        name: statistics.median(times)
        for name, times in (("train", train_s), ("plain", plain_s), ("calibrated", calibrated_s))
    }
    result: dict[str, object] = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "rounds": args.rounds,
        "train_epoch_s": medians["train"],
        "evaluate_s_without_calibration": medians["plain"],
        "evaluate_s_with_calibration": medians["calibrated"],
        "calibration_over_plain_evaluation": medians["calibrated"] / medians["plain"],
        "calibration_share_of_epoch": (medians["calibrated"] - medians["plain"])
        / (medians["train"] + medians["plain"]),
    }
    with tempfile.TemporaryDirectory() as cache:
        import os

        os.environ["MIXUP_TUNE_CACHE"] = cache
        end = dataclasses.replace(
            config.evaluation, corruptions=("all",), corruption_images=args.corruption_images, ood=("noise",)
        )
        trial.config = dataclasses.replace(config, evaluation=end)
        result["end_corruptions_and_noise_cold_s"] = _seconds(trial.shifted, device)
        result["end_corruptions_and_noise_warm_s"] = _seconds(trial.shifted, device)
    result["end_warm_over_train_epoch"] = float(result["end_corruptions_and_noise_warm_s"]) / medians["train"]  # type: ignore[arg-type]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
