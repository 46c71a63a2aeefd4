"""How long a trivial sweep takes from the shell, against Ray's own floor (issue 19's start-up figures).

    python benchmarks/startup.py                 # 5 rounds, ~4 min on 2 cores
    python benchmarks/startup.py --rounds 1      # a quick look

Four commands, each a new process as a user starts it, side by side in every round (their order
rotates from round to round, so that drift falls on all of them alike):

- **ray**: a bare Ray lifecycle in a bare interpreter: import ray, ``ray.init()``, one actor's
  method called once, ``ray.shutdown()``. The floor: any sweep pays at least this.
- **tune**: an empty one-trial Tune run with Tune's defaults, in a bare interpreter: import ray
  and tune, ``Tuner(fn).fit()`` of a function that reports once. The issue's yardstick.
- **run (existing store)**: ``mixup-tune run`` of a one-trial, one-epoch digits sweep, a new seed
  each round, on a sqlite store made beforehand.
- **run (new store)**: the same on a store that does not exist yet (MLflow creates and migrates it).

Reported: each command's median wall time, and the two ``run`` figures as ratios to the ``tune`` and
``ray`` medians of the same rounds (targets: at most 1.0x the empty Tune run). Ray's usage stats are off,
as in CI. ``--json FILE`` writes every time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = str(Path(sys.executable).parent / "mixup-tune")
RAY_LIFECYCLE = """
import ray
ray.init()
@ray.remote
class Echo:
    def ping(self):
        return 1
assert ray.get(Echo.remote().ping.remote()) == 1
ray.shutdown()
"""
EMPTY_TUNE = """
from ray import tune
def trainable(config):
    tune.report({"score": 1.0})
tune.Tuner(trainable, run_config=tune.RunConfig(storage_path=%r)).fit()
"""
SPEC = """\
name: startup-{round}
trainable: {{dataset: digits, model: mlp, hidden_sizes: [16], epochs: 1, batch_size: 128, seed: {round}}}
resources: {{cpu: 1, gpu: 0}}
"""


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed: {done.stderr[-2000:]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write every time here")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mixup-tune-startup-"))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    existing = f"sqlite:///{root / 'existing.db'}"
    try:
        (root / "warm.yaml").write_text(SPEC.format(round=1000))
        # the existing store, and the OS's file cache warmed for every command's imports
        _timed([CLI, "run", "warm.yaml", "--quiet", "--tracking-uri", existing], root, env)
        commands = {
            "ray": lambda r: [sys.executable, "-c", RAY_LIFECYCLE],
            "tune": lambda r: [sys.executable, "-c", EMPTY_TUNE % str(root / f"tune-{r}")],
            "run (existing store)": lambda r: [
                CLI,
                "run",
                f"s{r}.yaml",
                "--quiet",
                "--tracking-uri",
                existing,
                "--storage",  # Ray's storage of its own: a sweep finds its results there and would skip
                str(root / f"ray-existing-{r}"),
            ],
            "run (new store)": lambda r: [
                CLI,
                "run",
                f"n{r}.yaml",
                "--quiet",
                "--tracking-uri",
                f"sqlite:///{root}/new-{r}.db",
                "--storage",
                str(root / f"ray-new-{r}"),
            ],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        names = list(commands)
        for r in range(args.rounds):
            (root / f"s{r}.yaml").write_text(SPEC.format(round=r))
            (root / f"n{r}.yaml").write_text(SPEC.format(round=r))  # the same sweep, on a store of its own
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                times[name].append(_timed(commands[name](r), root, env))
            print(f"round {r + 1}: " + ", ".join(f"{n} {times[n][-1]:.2f} s" for n in names), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratios = {
        f"{name} / {base}": medians[name] / medians[base]
        for name in ("run (existing store)", "run (new store)")
        for base in ("tune", "ray")
    }
    print("\nmedian wall times: " + ", ".join(f"{n} {m:.2f} s" for n, m in medians.items()))
    for label, ratio in ratios.items():
        print(f"{label}: {ratio:.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"times": times, "medians": medians, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
