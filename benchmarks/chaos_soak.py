"""The chaos test as a soak: more trials and minutes of random kills, on the same loopback cluster.

    python benchmarks/chaos_soak.py                          # 48 trials, 5 min of kills (~9 min on 2 cores)
    python benchmarks/chaos_soak.py --trials 96 --chaos-s 1800 --json soak.json

It runs ``tests/integration/test_chaos.py`` (a head and two worker nodes of one CPU each, token auth on,
on 127.0.0.2) with ``MIXUP_TUNE_CHAOS_TRIALS`` and ``MIXUP_TUNE_CHAOS_S`` set: a trial worker
SIGKILLed every 2.5 s or so, every sixth kill a whole worker node, restarted at once, for the chaos's
seconds; then the sweep finishes undisturbed. The test's assertions are the soak's: every trial
FINISHED in exactly one MLflow run, every epoch once, metrics bit for bit an undisturbed run's, no
process of the cluster left. Printed: the kills survived and what Ray retried.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=48, help="a multiple of 3 (three alphas, then seeds)")
    parser.add_argument("--chaos-s", type=float, default=300, help="seconds of kills")
    parser.add_argument("--json", type=Path, help="write the report (every kill, with its time) here")
    args = parser.parse_args()
    if args.trials < 3 or args.trials % 3:
        parser.error("--trials must be a positive multiple of 3")
    with tempfile.TemporaryDirectory() as scratch:
        report = args.json or Path(scratch) / "chaos.json"
        env = {
            **os.environ,
            "MIXUP_TUNE_CHAOS_TRIALS": str(args.trials),
            "MIXUP_TUNE_CHAOS_S": str(args.chaos_s),
            "MIXUP_TUNE_CHAOS_REPORT": str(report.resolve()),
        }
        test = "tests/integration/test_chaos.py"
        pytest = [sys.executable, "-m", "pytest", "-n", "0", "-q", "-x", test]
        result = subprocess.run(pytest, cwd=REPO, env=env)
        if report.exists():
            summary = json.loads(report.read_text())
            print(json.dumps({key: value for key, value in summary.items() if key != "kills"}, indent=1))
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
