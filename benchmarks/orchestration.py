"""What Ray Tune and MLflow cost a sweep: ``mixup-tune run`` against the same trials in a plain loop.

    python benchmarks/orchestration.py                       # 24 trials of 10 to 18 s, CPU (25 min on 2
    cores)
    python benchmarks/orchestration.py --trials 48           # the issue's sweep size (45): the fixed cost
    spread thinner
    python benchmarks/orchestration.py --trials 4 --epochs 1  # a quick look
    python benchmarks/orchestration.py --trainable digits --epochs 30  # trials of ~0.5 s: the fixed/per-trial
    split, little noise

The same K trials run two ways, one after the other, each as a new process, as
a user would start them:

- **loop**: ``python -c`` importing ``trainables`` and calling ``train`` for each
  config in turn: no Ray, no MLflow. Each ``train`` call is timed: the sum is
  the trials' compute time.
- **sweep**: ``mixup-tune run`` on a sweep file of the same configs, with a new
  sqlite store and Ray storage: a local Ray, one trial at a time
  (``max_concurrent_trials: 1``) with every CPU, so each trial gets the threads
  the loop's trials get, every epoch logged to MLflow and checkpointed.

Reported, as the issue defines them: overhead = (sweep wall time - sum of trial
compute time) / sweep wall time, and that difference per trial. A trial's
compute time is taken inside the sweep, by the trial itself: the ``compute_s``
each trial reports (its time in ``train``: data, model, epochs; not its waits
on Tune, its checkpoints or its worker's imports). Both terms come from the same
run, so the figure carries no run-to-run noise.

On a shared 2-core machine the same trial's time varies by +-10% from one run
to the next, which is more than the overhead being measured. So the loop is
the check, not the yardstick: each trial's compute in the sweep against the
same trial's in the loop (median ratio; 1.00 means Ray's worker computes at
the loop's speed), and the sweep wall against the loop's summed compute as
the issue's side-by-side figure, with that noise in it. The two ways
alternate over ``--repeats`` rounds.

A second, smaller sweep of the first ``--small`` trials splits the overhead
into what a sweep pays once (imports, starting and stopping Ray, its first
worker, the store) and what each further trial adds: the slope between the
two sweep sizes, again from each sweep's own wall and compute.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "mixup-tune")

TRAINABLES = {
    # A trial of 10 to 17 s on a 2-core CPU at 3 epochs: the small CNN on
    # 5,000 CIFAR-10 images, crop and flip, mixup.
    "cifar10": {
        "dataset": "cifar10",
        "train_subset": 5000,
        "model": "cnn",
        "batch_size": 128,
        "device": "cpu",
    },
    # ~15 ms per epoch: what a sweep costs besides its trials, with little compute noise on top.
    "digits": {"dataset": "digits", "model": "mlp", "batch_size": 64, "device": "cpu"},
}

LOOP = """
import json, sys, time
from trainables import TrainConfig, train
configs = json.loads(sys.argv[1])
compute = []
for config in configs:
    start = time.perf_counter()
    train(TrainConfig.from_dict(config))
    compute.append(time.perf_counter() - start)
print(json.dumps(compute))
"""


def trial_configs(trainable: str, trials: int, epochs: int) -> list[dict[str, object]]:
    alphas = [0.0, 0.2, 1.0, 4.0]
    return [
        {**TRAINABLES[trainable], "epochs": epochs, "alpha": alphas[i % 4], "seed": i // 4}
        for i in range(trials)
    ]


def run_loop(configs: list[dict[str, object]]) -> tuple[float, list[float]]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", LOOP, json.dumps(configs)],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - start, json.loads(done.stdout.strip().splitlines()[-1])


def run_sweep(configs: list[dict[str, object]], folder: Path, index: int) -> float:
    base = {k: v for k, v in configs[0].items() if k not in ("alpha", "seed")}
    spec = {
        "name": f"orchestration-{index}",
        "trainable": base,
        # An explicit list of trials (grid over a single joint axis would mix
        # alphas and seeds): alpha and seed as given.
        "search": {
            "alpha": sorted({c["alpha"] for c in configs}),
            "seed": sorted({c["seed"] for c in configs}),
        },
        "resources": {"cpu": os.cpu_count() or 1, "gpu": 0},
        "tune": {"max_concurrent_trials": 1},
    }
    path = folder / f"sweep-{index}.yaml"
    path.write_text(yaml.safe_dump(spec))
    start = time.perf_counter()
    subprocess.run(
        [
            CLI,
            "run",
            str(path),
            "--quiet",
            "--tracking-uri",
            f"sqlite:///{folder / f'mlflow-{index}.db'}",
            "--storage",
            str(folder / f"ray-{index}"),
        ],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def in_sweep_trials(folder: Path, index: int) -> dict[tuple[float, int], tuple[float, float]]:
    """Each trial's (compute_s, Ray's time_total_s) inside the sweep, by (alpha, seed), from Ray's result
    files."""
    trials = {}
    for result in (folder / f"ray-{index}" / f"orchestration-{index}").glob("*/result.json"):
        last = json.loads(result.read_text().strip().splitlines()[-1])
        trials[(float(last["config"]["alpha"]), int(last["config"]["seed"]))] = (
            float(last["compute_s"]),
            float(last["time_total_s"]),
        )
    return trials


def sweep_overhead(configs: list[dict[str, object]], folder: Path, index: int) -> dict[str, object]:
    """Run the sweep; its wall time, its trials' compute, and the issue's overhead, all from this one run."""
    wall = run_sweep(configs, folder, index)
    trials = in_sweep_trials(folder, index)
    compute, total = zip(*(trials[(float(c["alpha"]), int(c["seed"]))] for c in configs))  # type: ignore[arg-type]  # in the loop's order
    overhead = wall - sum(compute)
    return {
        "sweep_wall_s": wall,
        "in_sweep_compute_s": list(compute),
        "ray_time_total_s": list(total),
        "overhead_s": overhead,
        "overhead_fraction": overhead / wall,
        "overhead_s_per_trial": overhead / len(configs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--trainable", choices=sorted(TRAINABLES), default="cifar10", help="the trials' model and data"
    )
    parser.add_argument("--trials", type=int, default=24, help="K: a multiple of 4 (4 alphas x K/4 seeds)")
    parser.add_argument(
        "--epochs", type=int, default=3, help="epochs per trial (3: about 10 s each on a 2-core CPU)"
    )
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument(
        "--small", type=int, default=4, help="trials in the second, smaller sweep (a multiple of 4; 0: none)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.trials % 4 or args.small % 4 or args.small >= args.trials:
        parser.error("--trials and --small must be multiples of 4, --small below --trials")
    configs = trial_configs(args.trainable, args.trials, args.epochs)
    dataset = TRAINABLES[args.trainable]["dataset"]
    # decode once, for both
    subprocess.run(
        [sys.executable, "-c", f"from trainables import load_data; load_data({dataset!r})"],
        cwd=REPO,
        check=True,
    )
    rounds = []
    with tempfile.TemporaryDirectory(prefix="mixup-tune-orchestration-") as directory:
        for index in range(args.repeats):
            first, second = ("loop", "sweep") if index % 2 == 0 else ("sweep", "loop")
            row: dict[str, object] = {}
            for way in (first, second):
                if way == "loop":
                    row["loop_wall_s"], row["loop_compute_s"] = run_loop(configs)
                else:
                    row |= sweep_overhead(configs, Path(directory), index)
                print(f"  round {index + 1}: {way} done", flush=True)
            loop, sweep = row["loop_compute_s"], row["in_sweep_compute_s"]
            wall = float(row["sweep_wall_s"])  # type: ignore[arg-type]
            # type: ignore[arg-type]
            row |= {
                "compute_ratio_sweep_to_loop": statistics.median(s / t for s, t in zip(sweep, loop)),  # type: ignore[call-overload]
                "against_loop_fraction": (wall - sum(loop)) / wall,
                "against_loop_s_per_trial": (wall - sum(loop)) / args.trials,
            }
            if args.small:
                small = sweep_overhead(configs[: args.small], Path(directory), args.repeats + index)
                # type: ignore[arg-type]
                per_extra = (float(row["overhead_s"]) - float(small["overhead_s"])) / (
                    args.trials - args.small
                )
                # type: ignore[arg-type]
                row |= {
                    "small_trials": args.small,
                    "small_sweep_wall_s": small["sweep_wall_s"],
                    "small_overhead_s": small["overhead_s"],
                    "overhead_s_per_extra_trial": per_extra,
                    "overhead_s_per_sweep": float(small["overhead_s"]) - args.small * per_extra,
                }
                print(
                    f"  round {index + 1}: {args.small}-trial sweep {small['sweep_wall_s']:.1f} s wall, "
                    f"overhead {small['overhead_s']:.1f} s; "
                    f"so {row['overhead_s_per_sweep']:.1f} s once per sweep and {per_extra:.2f} s per "
                    "further trial",
                    flush=True,
                )
            rounds.append(row)
            print(
                f"round {index + 1} ({first} first): {args.trials} trials of "  # type: ignore[arg-type]
                f"{statistics.median(loop):.2f} s (median, loop); "
                f"sweep {wall:.1f} s wall, {sum(sweep):.1f} s of it the trials' compute: "  # type: ignore[arg-type]
                f"overhead {100 * row['overhead_fraction']:.1f}% (target <= 5%), "
                f"{row['overhead_s_per_trial']:.2f} s per trial. "
                f"Check against the loop ({row['loop_wall_s']:.1f} s wall, {sum(loop):.1f} s in train): "  # type: ignore[arg-type]
                f"a trial computes {row['compute_ratio_sweep_to_loop']:.3f}x as long in the sweep (median); "
                f"sweep wall - loop compute = {100 * row['against_loop_fraction']:.1f}%, "
                f"{row['against_loop_s_per_trial']:.2f} s per trial",
                flush=True,
            )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"trainable": args.trainable, "trials": args.trials, "epochs": args.epochs, "rounds": rounds},
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
