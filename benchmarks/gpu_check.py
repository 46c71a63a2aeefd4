"""The GPU check in one call: the paper-scale paths that CI's CPU cannot run, on the JPEG CIFAR-10.

    python benchmarks/gpu_check.py --device cuda --data-root DIR     # DIR holds cifar10-jpg.tar.gz (or any
    CIFAR-10 layout)
    python benchmarks/gpu_check.py --device cpu --data-root DIR --train-subset 256 --test-subset 128 --epochs
    1 --seeds 1 --no-compile

It needs torch, torchvision, numpy and scikit-learn only (no Ray, MLflow or
Optuna), so it runs on a bare GPU machine with the data brought in a folder.
For fast_cifar and the mixup authors' PreAct ResNet-18 (mixup, alpha = 1,
crop and flip, SGD 0.1), it checks:

- **precision**: fp32 against bf16 over ``--seeds`` seeds, final test error
  within seed noise (the difference of means within 3 pooled standard errors,
  and never more than ``--max-gap`` points: 2 seeds give a noisy spread);
- **resume**: a deterministic trial checkpointed after half its epochs and
  resumed ends with the same weights and metrics, to the bit, as an
  uninterrupted one (``deterministic: true``);
- **channels_last and compile** run, and the compiled trial learns;
- **throughput**: training images per second at fp32 and bf16, and what
  ``deterministic: true`` costs against cuDNN's benchmarked kernels.

It prints one JSON line (also written to ``--json``) and exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from trainables import Splits, TrainConfig, Trial, load_data

# images per minibatch
MODELS = {
    "fast_cifar": {"batch_size": 512},
    "preact_resnet18_authors": {"batch_size": 128},
}


def config(model: str, seed: int, precision: str, device: str, **options: Any) -> TrainConfig:
    return TrainConfig(
        dataset="cifar10",
        model=model,
        seed=seed,
        precision=precision,
        device=device,
        alpha=1.0,
        augment=True,
        optimizer={"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4},
        **{**MODELS[model], **options},
    )


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run(
    trial: Trial, epochs: int, checkpoint_after: int | None = None
) -> tuple[list[dict[str, float]], list[float], dict[str, Any] | None]:
    """Train ``epochs`` epochs; the metrics per epoch, seconds of training per epoch, and the state after
    ``checkpoint_after``."""
    history, seconds, saved = [], [], None
    for _ in range(epochs):
        synchronise(trial.device)
        started = time.perf_counter()
        loss = trial.train_epoch()
        synchronise(trial.device)
        seconds.append(time.perf_counter() - started)
        trial.scheduler.step()
        trial.epoch += 1
        history.append({"epoch": trial.epoch, "train_loss": loss, **trial.evaluate()})
        if checkpoint_after == trial.epoch:
            saved = copy.deepcopy(trial.state_dict())
    return history, seconds, saved


def check_model(model: str, splits: Splits, args: argparse.Namespace) -> dict[str, Any]:
    device = args.device
    out: dict[str, Any] = {"model": model}
    # Precision: each seed at fp32 and at bf16 (autocast for training's
    # forward passes; evaluation is fp32 either way).
    errors: dict[str, list[float]] = {"fp32": [], "bf16": []}
    speed: dict[str, float] = {}
    for precision in errors:
        for seed in range(args.seeds):
            trial = Trial(
                config(model, seed, precision, device, epochs=args.epochs, deterministic=False), splits
            )
            history, seconds, _ = run(trial, args.epochs)
            errors[precision].append(history[-1]["test_error"])
            if seed == 0:  # the first epoch pays cuDNN's benchmarking; later ones are what a long run sees
                speed[precision] = len(trial.y_train) / statistics.median(seconds[1:] or seconds)
    spread = (
        statistics.fmean(statistics.stdev(v) for v in errors.values()) if args.seeds > 1 else float("nan")
    )
    gap = abs(statistics.fmean(errors["bf16"]) - statistics.fmean(errors["fp32"]))
    allowed = min(args.max_gap, 3 * spread * math.sqrt(2 / args.seeds)) if spread == spread else args.max_gap
    out["precision"] = {
        "test_error": errors,
        "seed_std": spread,
        "gap": gap,
        "allowed": allowed,
        "ok": gap <= allowed,
    }
    out["images_per_s"] = speed
    # Resume: deterministic fp32, a checkpoint after half the epochs, against the same trial uninterrupted.
    half = max(1, args.epochs // 2)
    straight = Trial(config(model, 0, "fp32", device, epochs=args.epochs, deterministic=True), splits)
    history, seconds, state = run(straight, args.epochs, checkpoint_after=half)
    resumed = Trial(config(model, 0, "fp32", device, epochs=args.epochs, deterministic=True), splits)
    resumed.load_state_dict(state)  # type: ignore[arg-type]
    rest, _, _ = run(resumed, args.epochs - half)
    same_weights = all(
        torch.equal(a, b)
        for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values())
    )
    out["resume"] = {
        "epochs": args.epochs,
        "checkpoint_after": half,
        "same_metrics": rest == history[half:],
        "same_weights": same_weights,
        "ok": rest == history[half:] and same_weights,
    }
    deterministic_speed = len(straight.y_train) / statistics.median(seconds[1:] or seconds)
    out["deterministic_cost"] = {
        "images_per_s": deterministic_speed,
        "slowdown": speed["fp32"] / deterministic_speed,
    }
    # channels_last and torch.compile: one short run each; they must learn (better than chance's 90%).
    layouts = {}
    for name, options in (
        ("channels_last", {"channels_last": True}),
        ("compile", {"channels_last": True, "compile": True}),
    ):
        if name == "compile" and args.no_compile:
            continue
        trial = Trial(
            config(model, 0, "bf16" if device != "cpu" else "fp32", device, epochs=1, **options), splits
        )
        started = time.perf_counter()
        history, _, _ = run(trial, 1)
        layouts[name] = {
            "seconds": time.perf_counter() - started,
            "test_error": history[-1]["test_error"],
            "ok": history[-1]["test_error"] < args.chance_bound,
        }
    out["layouts"] = layouts
    out["ok"] = out["precision"]["ok"] and out["resume"]["ok"] and all(v["ok"] for v in layouts.values())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument(
        "--data-root",
        type=Path,
        required=True,
        help="a folder with CIFAR-10 (cifar10-jpg.tar.gz, cifar10-jpg/ or cifar-10-batches-py/)",
    )
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--train-subset", type=int, default=None)
    parser.add_argument("--test-subset", type=int, default=None, help="test images kept (the first ones)")
    parser.add_argument(
        "--max-gap",
        type=float,
        default=3.0,
        help="points of test error that fp32 and bf16 may differ by at most",
    )
    parser.add_argument(
        "--chance-bound", type=float, default=85.0, help="a run that learnt ends below this test error (%%)"
    )
    parser.add_argument(
        "--no-compile", action="store_true", help="skip torch.compile (minutes of compiling on a CPU)"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    splits = load_data("cifar10", data_root=args.data_root, train_subset=args.train_subset)
    if args.test_subset is not None:
        splits.x_test, splits.y_test = splits.x_test[: args.test_subset], splits.y_test[: args.test_subset]
    device = torch.device(args.device)
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "train_images": len(splits.y_train),
        "epochs": args.epochs,
        "seeds": args.seeds,
        "models": [check_model(model, splits, args) for model in args.models.split(",")],
    }
    results["seconds"] = time.perf_counter() - started
    results["ok"] = all(m["ok"] for m in results["models"])
    line = json.dumps(results)
    print(line, flush=True)
    if args.json is not None:
        args.json.write_text(line + "\n")
    sys.exit(0 if results["ok"] else 1)


if __name__ == "__main__":
    main()
