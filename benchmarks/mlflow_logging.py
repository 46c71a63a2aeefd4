"""What MLflow costs: seconds per logged metric point, and ``analyze`` over 1,000 logged runs.

    python benchmarks/mlflow_logging.py                    # sqlite store in a temporary folder
    python benchmarks/mlflow_logging.py --runs 1000 --epochs 30 --keep /tmp/mlflow-1000

1. Per metric point, side by side on one store: the sweep's way (one
   ``log_batch`` per epoch result, as during a sweep), ``sync``'s way (a trial's
   whole history in batches of up to 1,000 points), and the naive way of a
   hand-written loop (one ``log_metric`` call per point). Each epoch carries the
   six per-epoch metrics of a label-noise trial.
2. 1,000 trial runs of one sweep are written through the sweep's own record
   (``SweepRecord.log_results`` and ``complete``, which the Tune callback and
   ``sync`` call), with the params, tags, per-epoch history and final metrics of
   real trials, under a parent run. Then ``mixup-tune analyze`` is timed on them,
   as a user runs it (a new process, imports included), for the generic study
   (runs and final metrics only) and for the label-noise study (which also reads
   every run's per-epoch history).

The trials' values are drawn at random: the benchmark times MLflow, not training.
Needs MLflow, not Ray (the record is Ray-free).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from mlflow.tracking import MlflowClient

from mixup_tune.records import EPOCH_METRICS, SweepRecord
from trainables import TrainConfig

CLI = str(Path(sys.executable).parent / "mixup-tune")


def fake_trial(index: int, config: dict[str, Any]) -> SimpleNamespace:
    """What the record reads of a Ray Tune trial: its id, config and failures."""
    return SimpleNamespace(trial_id=f"bench_{index:05d}", config=config, num_failures=0)


def epoch_results(rng: np.random.Generator, epochs: int) -> list[dict[str, float]]:
    test = np.minimum.accumulate(60 * np.exp(-np.arange(1, epochs + 1) / 8) + rng.uniform(5, 15))
    return [
        {
            "epoch": e + 1,
            "test_error": float(test[e]),
            "train_error_real": float(test[e] * 0.6),
            "train_error_corrupted": float(80 - e),
            "train_loss": float(2 / (e + 1)),
            "lr": 0.1,
            "val_error": float(test[e] + 1),
            "best_test_error": float(test[: e + 1].min()),
            "labels_changed": 45.0,
            "diverged": 0.0,
        }
        for e in range(epochs)
    ]


def sweep_record(client: MlflowClient, sweep: str, study: str) -> SweepRecord:
    return SweepRecord.start(
        client, sweep, f"bench-{sweep}", study=study, storage="", algorithm="grid", log_model=False
    )


def per_point_costs(client: MlflowClient, trials: int, epochs: int) -> dict[str, float]:
    """Seconds per metric point for the three ways of logging, interleaved trial by trial."""
    rng = np.random.default_rng(0)
    record = sweep_record(client, "per-point", "generic")
    seconds: dict[str, list[float]] = {
        "sweep (log_batch per epoch)": [],
        "sync (whole history, log_batch)": [],
        "naive (log_metric per point)": [],
    }
    points = 0
    for index in range(trials):
        results = epoch_results(rng, epochs)
        points = sum(1 for r in results for name in EPOCH_METRICS if name in r)
        for number, way in enumerate(seconds):
            # A config of its own for each way: runs are found by the hash of the config.
            trial = fake_trial(
                index * len(seconds) + number,
                {"alpha": 1.0, "seed": index * len(seconds) + number, "label_noise": 0.2},
            )
            run_id = record.run_id(trial)  # run creation is not what is measured here
            start = time.perf_counter()
            if way.startswith("sweep"):
                for result in results:
                    record.log_results(trial, [result])
            elif way.startswith("sync"):
                record.log_results(trial, results)
            else:
                for result in results:
                    for name in EPOCH_METRICS:
                        if name in result:
                            client.log_metric(run_id, name, result[name], step=int(result["epoch"]))
            seconds[way].append((time.perf_counter() - start) / points)
    return {way: statistics.median(values) for way, values in seconds.items()} | {"points_per_trial": points}


def write_sweep(client: MlflowClient, sweep: str, study: str, runs: int, epochs: int) -> float:
    """``runs`` finished trial runs of one sweep, through the record; returns the seconds it took."""
    rng = np.random.default_rng(1)
    record = sweep_record(client, sweep, study)
    alphas, noises = [0.0, 0.2, 1.0, 2.0, 8.0, 32.0], [0.0, 0.2, 0.5, 0.8]
    start = time.perf_counter()
    for index in range(runs):
        config = TrainConfig(
            dataset="cifar10",
            model="preact_resnet18",
            epochs=epochs,
            alpha=alphas[index % 6],
            label_noise=noises[(index // 6) % 4],
            seed=index // 24,
            dropout=0.0,
        ).to_dict()
        trial = fake_trial(index, config)
        results = epoch_results(rng, epochs)
        record.log_results(trial, results)
        record.complete(trial, results[-1])
        if (index + 1) % 200 == 0:
            print(f"  {sweep}: {index + 1} runs written, {time.perf_counter() - start:.0f} s", flush=True)
    client.set_terminated(record.parent_run_id, "FINISHED")
    return time.perf_counter() - start


def time_analyze(uri: str, sweep: str, out: Path, repeats: int) -> list[float]:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(
            [CLI, "analyze", sweep, "--tracking-uri", uri, "--out", str(out)], check=True, capture_output=True
        )
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="trial runs in the sweep that analyze reads")
    parser.add_argument("--epochs", type=int, default=30, help="epochs of history per run")
    parser.add_argument(
        "--point-trials", type=int, default=20, help="trials per way of logging, for the per-point cost"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed analyze runs per study")
    parser.add_argument(
        "--tracking-uri",
        help="an existing store (e.g. a tracking server); default: sqlite in a temporary folder",
    )
    parser.add_argument("--keep", type=Path, help="keep the store in this folder instead of a temporary one")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="mixup-tune-mlflow-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    uri = args.tracking_uri or f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(uri)
    print(f"store: {uri}", flush=True)

    costs = per_point_costs(client, args.point_trials, args.epochs)
    print(
        f"seconds per metric point ({costs['points_per_trial']:.0f} points per trial, medians over "
        f"{args.point_trials} trials):"
    )
    for way, value in costs.items():
        if way != "points_per_trial":
            print(f"  {way}: {value * 1000:.3f} ms")

    results: dict[str, Any] = {"uri": uri, "per_point_s": costs, "analyze": {}}
    for study in ("generic", "label_noise"):
        sweep = f"bench-{study}-{args.runs}"
        written = write_sweep(client, sweep, study, args.runs, args.epochs)
        seconds = time_analyze(uri, sweep, folder / f"analysis-{study}", args.repeats)
        results["analyze"][study] = {"write_s": written, "analyze_s": seconds}
        print(
            f"{study}: {args.runs} runs x {args.epochs} epochs written in {written:.1f} s; "
            f"`mixup-tune analyze` took {', '.join(f'{s:.2f}' for s in seconds)} s (target < 5 s)",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
