"""What mixup costs: training-epoch time at alpha=1 over alpha=0, measured side by side in one process.

    python benchmarks/mixup_overhead.py                    # CPU, both cases, 7 rounds
    python benchmarks/mixup_overhead.py --device cuda --rounds 11

Each round trains one epoch at alpha=0 and one at alpha=1, in alternating
order, so that drift in the machine's speed falls on both alike. The ratio
is of the medians. Only ``Trial.train_epoch`` is timed: evaluation is the
same at every alpha. Needs torch and the offline datasets only (no Ray, no
MLflow), so it also runs on a GPU machine that has just torch.
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

from trainables import TrainConfig, Trial, load_data

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


def measure(case: dict[str, object], device: str, rounds: int) -> dict[str, float]:
    """Median training-epoch seconds at alpha 0 and 1, and their ratio."""
    splits = load_data(str(case["dataset"]), train_subset=case.get("train_subset"))  # type: ignore[arg-type]
    # type: ignore[arg-type]
    trials = {
        alpha: Trial(TrainConfig(**case, alpha=alpha, device=device, epochs=rounds + 1), splits)
        for alpha in (0.0, 1.0)
    }
    seconds: dict[float, list[float]] = {0.0: [], 1.0: []}
    for trial in trials.values():  # warm-up: allocator, kernels, caches
        trial.train_epoch()
    for round_ in range(rounds):
        for alpha in (0.0, 1.0) if round_ % 2 == 0 else (1.0, 0.0):
            _synchronise(trials[alpha].device)
            start = time.perf_counter()
            trials[alpha].train_epoch()
            _synchronise(trials[alpha].device)
            seconds[alpha].append(time.perf_counter() - start)
    erm, mixup = statistics.median(seconds[0.0]), statistics.median(seconds[1.0])
    examples = len(splits.y_train)
    return {
        "erm_epoch_s": erm,
        "mixup_epoch_s": mixup,
        "ratio": mixup / erm,
        "erm_examples_per_s": examples / erm,
        "mixup_examples_per_s": examples / mixup,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--rounds", type=int, default=7, help="timed epochs per alpha (after one warm-up epoch)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = {}
    for name, case in CASES.items():
        results[name] = row = measure(case, args.device, args.rounds)
        print(
            f"{name}: ERM {row['erm_epoch_s']:.3f} s/epoch ({row['erm_examples_per_s']:.0f} ex/s), "
            f"mixup {row['mixup_epoch_s']:.3f} s/epoch ({row['mixup_examples_per_s']:.0f} ex/s), ratio "
            f"{row['ratio']:.3f}",
            flush=True,
        )
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
