"""What mixup and its successors cost: each method's training-epoch time over ERM's, side by side in one
process.

    python benchmarks/mixup_overhead.py                    # CPU, both cases, 7 rounds
    python benchmarks/mixup_overhead.py --device cuda --rounds 11

Each round trains one epoch of every method (``METHODS``), in an order that
rotates from round to round, so that drift in the machine's speed falls on all
alike. The ratios are of the medians. Only ``Trial.train_epoch`` is timed:
evaluation is the same for every method. Needs torch and the offline
datasets only (no Ray, no MLflow), so it also runs on a GPU machine that has
just torch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from trainables import ConfigError, TrainConfig, Trial, load_data

CASES: dict[str, dict[str, object]] = {
    # The quickstart's model: small, so that mixup's share of the epoch is as large as it gets.
    "digits, MLP 128x128, batch 64": {
        "dataset": "digits",
        "model": "mlp",
        "hidden_sizes": (128, 128),
        "batch_size": 64,
    },
    # Images with crop and flip, as in the paper's CIFAR-10 runs (a
    # 5,000-image subset, to keep it short on a CPU).
    "cifar10 (5k), small CNN, batch 128": {
        "dataset": "cifar10",
        "model": "cnn",
        "batch_size": 128,
        "train_subset": 5000,
    },
}


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# Trainable options of each method; Cutout's square is half the image's side, as DeVries & Taylor's 16 of 32.
METHODS: dict[str, dict[str, object]] = {
    "erm": {"alpha": 0.0},
    "mixup": {"alpha": 1.0},
    "label_smoothing": {"label_smoothing": 0.1},
    "mixup+label_smoothing": {"alpha": 1.0, "label_smoothing": 0.1},
    "cutout": {"cutout": "half"},
    "cutmix": {"alpha": 1.0, "mix_method": "cutmix"},
    "mixup/cutmix switch": {"alpha": 1.0, "mix_switch_prob": 0.5},
    "manifold_mixup": {"alpha": 1.0, "mix_method": "manifold_mixup"},
    # The family's mask methods (issue 30), at their defaults; ResizeMix and SmoothMix read no alpha.
    "fmix": {"alpha": 1.0, "mix": {"method": "fmix"}},
    "resizemix": {"mix": {"method": "resizemix"}},
    "smoothmix": {"mix": {"method": "smoothmix"}},
    "randommix": {"alpha": 1.0, "mix": {"method": "randommix"}},
    # the clean batch and its mixup in one forward pass: about twice ERM's work, by design
    "regmixup": {"alpha": 20.0, "mix": {"method": "regmixup"}},
    # one OpenCV saliency map per batch, on the CPU (the saliency extra; left out where it is missing)
    "saliencymix": {"alpha": 1.0, "mix": {"method": "saliencymix"}},
    # timm's per-example mode, mixup and CutMix switched per example: its most work per batch
    "timm_elem": {"alpha": 1.0, "mix": {"method": "timm_mixup", "mode": "elem", "cutmix_alpha": 1.0}},
    "augmix": {"alpha": 1.0, "mix": {"method": "augmix"}},  # the clean batch and two views: 3N, by design
    "augmix_no_jsd": {"alpha": 1.0, "mix": {"method": "augmix", "jsd": False}},
    # an extra forward and backward of the clean batch, and one graph cut per image on the CPU
    "puzzlemix": {"alpha": 1.0, "mix": {"method": "puzzlemix"}},
}


def measure(
    case: dict[str, object], device: str, rounds: int, methods: list[str] | None = None
) -> dict[str, float]:
    """Median training-epoch seconds of each method (``methods``, else all), and each one's ratio to ERM's."""
    splits = load_data(str(case["dataset"]), train_subset=case.get("train_subset"))  # type: ignore[arg-type]
    side = splits.input_shape[-1]
    trials = {}
    chosen = {"erm", *(methods or METHODS)}
    for method, options in METHODS.items():
        if method not in chosen:
            continue
        options = {k: side // 2 if v == "half" else v for k, v in options.items()}
        try:
            config = TrainConfig(**case, **options, device=device, epochs=rounds + 1)  # type: ignore[arg-type]
        except ConfigError as error:  # a method whose extra is not installed here
            print(f"{method}: left out ({error})", flush=True)
            continue
        trials[method] = Trial(config, splits)
    seconds: dict[str, list[float]] = {method: [] for method in trials}
    for trial in trials.values():  # warm-up: allocator, kernels, caches
        trial.train_epoch()
    names = list(trials)
    for round_ in range(rounds):
        for method in names[round_ % len(names) :] + names[: round_ % len(names)]:
            _synchronise(trials[method].device)
            start = time.perf_counter()
            trials[method].train_epoch()
            _synchronise(trials[method].device)
            seconds[method].append(time.perf_counter() - start)
    medians = {method: statistics.median(times) for method, times in seconds.items()}
    examples = len(splits.y_train)
    row = {"erm_epoch_s": medians["erm"], "erm_examples_per_s": examples / medians["erm"]}
    for method in names[1:]:
        row[f"{method}_epoch_s"] = medians[method]
        row[f"{method}_ratio"] = medians[method] / medians["erm"]
    if "mixup_ratio" in row:
        row["ratio"] = row["mixup_ratio"]  # the name of earlier runs (BENCHMARKS.md)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--rounds", type=int, default=7, help="timed epochs per alpha (after one warm-up epoch)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--methods", nargs="+", choices=list(METHODS), help="only these (and ERM, which every ratio is over)"
    )
    parser.add_argument("--cases", nargs="+", choices=list(CASES), help="only these cases")
    args = parser.parse_args()
    results = {}
    for name, case in CASES.items():
        if args.cases and name not in args.cases:
            continue
        results[name] = row = measure(case, args.device, args.rounds, args.methods)
        ratios = ", ".join(f"{m} {row[f'{m}_ratio']:.3f}" for m in METHODS if f"{m}_ratio" in row)
        print(f"{name}: ERM {row['erm_epoch_s']:.3f} s/epoch; over ERM: {ratios}", flush=True)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "device": args.device,
                    "torch": torch.__version__,
                    "threads": torch.get_num_threads(),
                    "results": results,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
