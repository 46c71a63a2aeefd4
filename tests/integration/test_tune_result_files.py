"""A sweep's ``Tuner.fit`` leaves its trials' result files unread (``result_files_left_unread``): the
``ResultGrid`` still has every trial's last result and error, and Ray's reader is itself again after it.

A real Tune run, in a process of its own as every sweep here runs: two function trials, one failing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = """\
import json, os, sys
os.environ["RAY_AUTH_MODE"] = "token"
import ray
from ray import tune
from ray.tune import ExperimentAnalysis
from mixup_tune.ray_internals import result_files_left_unread

def trainable(config):
    for step in range(3):
        tune.report({"value": step})
    if config["fail"]:
        raise ValueError("planned failure")

ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
tuner = tune.Tuner(
    trainable,
    param_space={"fail": tune.grid_search([False, True])},
    run_config=tune.RunConfig(name="two", storage_path=sys.argv[1], verbose=0),
)
with result_files_left_unread():
    results = tuner.fit()
read_after = ExperimentAnalysis(sys.argv[1] + "/two").trial_dataframes.values()
print(json.dumps({
    "errors": [str(error) for error in results.errors],
    "last_values": sorted(result.metrics["value"] for result in results),
    "frames": [result.metrics_dataframe is None for result in results],
    "rows_read_after": sorted(len(frame) for frame in read_after),
}))
ray.shutdown()
"""


def test_the_result_grid_keeps_results_and_errors_and_ray_reads_the_files_again_after(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "ray")], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert len(out["errors"]) == 1 and "planned failure" in out["errors"][0]
    assert out["last_values"] == [2, 2], "each trial's last result is Ray's own, not the files'"
    assert out["frames"] == [True, True], "no result file was read into a DataFrame"
    # the files are there, and Ray's reader reads them once the block has ended
    assert out["rows_read_after"] == [3, 3]
