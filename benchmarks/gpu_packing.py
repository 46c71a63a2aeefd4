"""Several trials on one GPU: aggregate trials per hour at 1, 2 and 4 trials per device, side by side.

    python benchmarks/gpu_packing.py                          # on a CUDA machine: fast_cifar, 5,000 images, 2
    epochs
    python benchmarks/gpu_packing.py --device cpu --model cnn --train-subset 1000 --epochs 1   # a smoke run
    on a CPU

In a sweep, packing is Ray's fractional GPUs (``resources: {gpu: 0.25}`` puts
four trials on each GPU). This benchmark measures what that buys without Ray,
so that it runs on a GPU machine that has only torch: for each packing P it
starts P processes at once, each training one trial (``trainables.train``) on
the same device, and times the batch. Trials per hour = P / wall time. A small
model leaves most of a large GPU idle (kernel launches, Python, evaluation), so
P trials share it better than P trials in a row. Packings alternate over
rounds, so drift in the machine falls on all alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# One trial, with the system metrics a sweep's worker sends (mixup_tune.system_metrics: psutil, and NVML on a
# GPU) averaged over its epochs; without psutil (a bare GPU machine) the trial runs and reports none.
TRIAL = """
import json, sys
from trainables import TrainConfig, train
from trainables.device import resolve_device
config = TrainConfig.from_dict(json.loads(sys.argv[1]))
epochs = []
try:
    from mixup_tune.system_metrics import SystemSampler
    device = resolve_device(config.device)
    sampler = SystemSampler(device.index or 0 if device.type == "cuda" else None)
    def on_epoch(metrics, state):
        epochs.append(sampler.sample(metrics))
        sampler.reported()
except ImportError:
    on_epoch = None
final = train(config, on_epoch=on_epoch).final
system = {key: sum(e[key] for e in epochs) / len(epochs) for key in epochs[0]} if epochs else {}
print(json.dumps({**final, **system}))
"""


def run_packed(
    config: dict[str, object], packing: int, threads: int | None
) -> tuple[float, list[dict[str, float]]]:
    """Start ``packing`` trials at once (seeds differ); return the wall time of the batch and each trial's
    final metrics."""
    # on a CPU: each trial its share of the cores
    env = None if threads is None else {**os.environ, "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", TRIAL, json.dumps({**config, "seed": seed})],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for seed in range(packing)
    ]
    finals = []
    for process in processes:
        out, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"a packed trial failed with exit code {process.returncode}")
        finals.append(json.loads(out.strip().splitlines()[-1]))
    return time.perf_counter() - start, finals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--model", default="fast_cifar")
    parser.add_argument(
        "--dataset", default="cifar10", help="a trainables dataset (default: the JPEG CIFAR-10)"
    )
    parser.add_argument(
        "--data-path", default=None, help="the file, for --dataset npz (smoke tests use a small one)"
    )
    parser.add_argument("--train-subset", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--packings", default="1,2,4", help="trials per device, comma-separated")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    packings = [int(p) for p in args.packings.split(",")]
    config = {
        "dataset": args.dataset,
        "data_path": args.data_path,
        "model": args.model,
        "train_subset": args.train_subset,
        "epochs": args.epochs,
        "batch_size": 128,
        "alpha": 1.0,
        "device": args.device,
        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4},
    }
    decode = f"from trainables import load_data; load_data({args.dataset!r}, data_path={args.data_path!r})"
    subprocess.run([sys.executable, "-c", decode], cwd=REPO, check=True)  # decode once, before timing
    cores = (os.cpu_count() or 1) if args.device == "cpu" else None
    walls: dict[int, list[float]] = {p: [] for p in packings}
    errors: dict[int, list[float]] = {p: [] for p in packings}
    systems: dict[int, list[dict[str, float]]] = {p: [] for p in packings}  # each trial's system/ means
    for round_ in range(args.rounds):
        for packing in packings if round_ % 2 == 0 else reversed(packings):
            threads = max(1, cores // packing) if cores else None
            wall, finals = run_packed(config, packing, threads)
            walls[packing].append(wall)
            errors[packing] += [f["test_error"] for f in finals]
            systems[packing] += [{k: v for k, v in f.items() if k.startswith("system/")} for f in finals]
            print(
                f"  round {round_ + 1}: {packing} per device: {wall:.1f} s for {packing} trials", flush=True
            )
    base = 3600 / statistics.median(walls[packings[0]]) * packings[0]
    results = {}
    for packing in packings:
        per_hour = 3600 * packing / statistics.median(walls[packing])
        results[packing] = {
            "wall_s": walls[packing],
            "trials_per_hour": per_hour,
            "ratio_to_first": per_hour / base,
            "test_errors": errors[packing],
            # per trial, over its epochs: samples/s, CPU %, RSS, and on a GPU its utilisation and memory
            "system": {
                key: statistics.fmean(trial[key] for trial in systems[packing])
                for key in (systems[packing][0] if systems[packing] else {})
            },
        }
        print(
            f"{packing} trials per device: {per_hour:.0f} trials/hour, {per_hour / base:.2f}x of "
            f"{packings[0]} per device; "
            f"final test error {statistics.fmean(errors[packing]):.1f}% (target: 4 per GPU >= 2x)"
        )
        system = results[packing]["system"]
        if system:  # what each trial saw of the machine, as its sweep's MLflow run would log it
            print(
                "    per trial: "
                + ", ".join(f"{key.removeprefix('system/')} {value:.4g}" for key, value in system.items())
            )
    if args.json:
        args.json.write_text(
            json.dumps({"args": vars(args) | {"json": str(args.json)}, "results": results}, indent=2)
        )


if __name__ == "__main__":
    main()
