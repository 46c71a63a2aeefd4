"""The benchmarks keep running: each script once, on tiny settings, through its documented command.

These check that each benchmark runs end to end and writes sane results; they
time nothing (the figures are in BENCHMARKS.md, taken by the full runs).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

# The slow tier (make test-slow): each script starts its own processes, sweeps and Ray (4 min in all).
pytestmark = pytest.mark.slow


def _run(script: str, *args: str, out: Path) -> dict:
    result = subprocess.run(
        [sys.executable, f"benchmarks/{script}", *args, "--json", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text())


def test_reference_loop_benchmark(tmp_path: Path, colour_npz: Path) -> None:
    # Small generated 32x32 colour images here and below: decoding the
    # JPEG CIFAR-10 into CI's fresh cache took 20 s.
    results = _run(
        "reference_loop.py",
        "--dataset",
        "npz",
        "--data-path",
        str(colour_npz),
        "--test-subset",
        "10",
        "--epochs",
        "2",
        "--seeds",
        "1",
        out=tmp_path / "r.json",
    )
    for loop in ("reference", "trainable"):
        assert results["summary"][loop]["train_images_per_s"] > 0
        assert 0 <= results["summary"][loop]["final_test_error_mean"] <= 100
    assert results["speedup_train"] > 0


def test_mlflow_benchmark(tmp_path: Path) -> None:
    results = _run(
        "mlflow_logging.py",
        "--runs",
        "12",
        "--epochs",
        "3",
        "--point-trials",
        "2",
        "--repeats",
        "1",
        "--keep",
        str(tmp_path / "store"),
        out=tmp_path / "m.json",
    )
    assert set(results["analyze"]) == {"generic", "label_noise"}
    assert (tmp_path / "store" / "analysis-label_noise" / "label_noise_memorisation.png").exists()
    assert (
        results["per_point_s"]["naive (log_metric per point)"]
        > results["per_point_s"]["sync (whole history, log_batch)"]
        > 0
    )


def test_packing_benchmark_on_a_cpu(tmp_path: Path, colour_npz: Path) -> None:
    results = _run(
        "gpu_packing.py",
        "--device",
        "cpu",
        "--model",
        "cnn",
        "--dataset",
        "npz",
        "--data-path",
        str(colour_npz),
        "--epochs",
        "1",
        "--packings",
        "1,2",
        "--rounds",
        "1",
        out=tmp_path / "p.json",
    )
    assert set(results["results"]) == {"1", "2"} and len(results["results"]["2"]["test_errors"]) == 2
    # each trial's system metrics over its epochs, as its sweep's run would log them under system/
    system = results["results"]["2"]["system"]
    assert system["system/train_samples_per_s"] > 0 and system["system/rss_mb"] > 100
    assert {"system/epoch_s", "system/cpu_percent"} <= set(system)


def test_orchestration_benchmark(tmp_path: Path) -> None:
    """A real `mixup-tune run` (local Ray, sqlite store) against the plain loop, on digits trials of a
    fraction of a second."""
    results = _run(
        "orchestration.py",
        "--trainable",
        "digits",
        "--trials",
        "4",
        "--small",
        "0",
        "--epochs",
        "2",
        out=tmp_path / "o.json",
    )
    [row] = results["rounds"]
    assert (
        len(row["loop_compute_s"]) == len(row["in_sweep_compute_s"]) == len(row["ray_time_total_s"]) == 4
    ), "every trial ran both ways"
    # a trial's own compute excludes its waits on Tune, which Ray's time_total_s counts
    assert all(
        0 < compute < total for compute, total in zip(row["in_sweep_compute_s"], row["ray_time_total_s"])
    )
    assert (
        row["sweep_wall_s"] > row["overhead_s"] > 0
        and row["overhead_s_per_trial"] == (row["sweep_wall_s"] - sum(row["in_sweep_compute_s"])) / 4
    )
    assert row["compute_ratio_sweep_to_loop"] > 0


def test_gpu_check_on_a_cpu(tmp_path: Path) -> None:
    """benchmarks/gpu_check.py, tiny, on the CPU: both networks, both precisions, a checkpoint and a resume to
    the bit."""
    from helpers import write_image_folder

    write_image_folder(tmp_path / "data" / "cifar10-jpg", classes=10, train=4, test=2)
    results = _run(
        "gpu_check.py",
        "--device",
        "cpu",
        "--data-root",
        str(tmp_path / "data"),
        "--epochs",
        "2",
        "--seeds",
        "1",
        "--no-compile",
        "--max-gap",
        "100",
        "--chance-bound",
        "100",
        out=tmp_path / "g.json",
    )
    assert (
        results["ok"]
        and results["train_images"] == 40
        and [m["model"] for m in results["models"]] == ["fast_cifar", "preact_resnet18_authors"]
    )
    for model in results["models"]:
        assert (
            model["resume"]["same_weights"]
            and model["resume"]["same_metrics"]
            and model["resume"]["checkpoint_after"] == 1
        )
        assert (
            model["images_per_s"]["fp32"] > 0
            and model["images_per_s"]["bf16"] > 0
            and set(model["layouts"]) == {"channels_last"}
        )


def test_startup_benchmark(tmp_path: Path) -> None:
    results = _run("startup.py", "--rounds", "1", out=tmp_path / "startup.json")
    assert set(results["medians"]) == {"ray", "tune", "run (existing store)", "run (new store)"}
    assert all(0 < seconds < 120 for seconds in results["medians"].values())
    assert results["ratios"]["run (existing store) / tune"] > 0


def test_many_trials_benchmark(tmp_path: Path) -> None:
    """Two small sweeps of near-zero trials through `mixup-tune run`, then `runs` and `analyze` over each
    store: every trial FINISHED in exactly one MLflow run, the driver's RSS sampled, the rows counted, the
    ratios taken."""
    # the sizes' ratio is the benchmark's (3); the sizes are the smallest that still give every row
    results = _run("many_trials.py", "--trials", "10", "30", "--repeats", "1", out=tmp_path / "many.json")
    assert set(results["sizes"]) == {"10", "30"}
    for size, row in results["sizes"].items():
        trials = int(size)
        assert row["runs_by_role"] == {"parent": {"FINISHED": 1}, "trial": {"FINISHED": trials}}
        assert row["rows"]["runs"] == trials + 1 and row["distinct_trial_keys"] == trials
        assert row["rows"]["params"] > 0 and row["rows"]["metrics"] > 0 and row["rows"]["tags"] > trials
        assert row["trials_reporting_compute"] == trials and 0 < row["compute_s_sum"] < row["wall_s"]
        assert 0 < row["overhead_s_per_trial"] < row["wall_s_per_trial"] == row["wall_s"] / trials
        rss = row["driver_rss_mb"]
        assert row["samples"] and all(sample[1] > 0 for sample in row["samples"])
        assert rss["peak"] >= max(rss["first"], rss["last"]) > 100  # the driver imports torch, Ray and MLflow
        assert all(value is not None and 0 < value <= rss["peak"] for value in rss["at_done"].values())
        assert row["ray_tree_rss_mb_peak"] > rss["peak"]
        assert len(row["runs_s"]) == len(row["analyze_s"]) == 1 and row["analyze_s_median"] > 0
    ratios = results["ratios"]
    assert ratios["trials"] == 3 and all(ratios[name] > 0 for name in ("analyze", "runs", "driver_peak_rss"))
    assert set(results["targets_met"]) == {"analyze", "driver_peak_rss"}
    assert (
        results["slope"]["s_per_extra_trial"]
        == (results["sizes"]["30"]["wall_s"] - results["sizes"]["10"]["wall_s"]) / 20
    )
