"""A trial's system metrics as its worker samples them (``mixup_tune.system_metrics``), against psutil read
directly and the clock."""

from __future__ import annotations

import os
import time

import psutil
import pytest

from mixup_tune.records.names import SYSTEM_PREFIX
from mixup_tune.system_metrics import PREFIX, SystemSampler


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_an_epoch_of_busy_cpu_reads_as_one_core_and_its_seconds() -> None:
    sampler = SystemSampler()
    wall, cpu = time.perf_counter(), time.process_time()
    _busy(0.4)
    # the process's own CPU time over the same interval, the oracle: on a loaded machine (the other test
    # process, a sweep's Ray) a busy loop gets less than a whole core, and both must say the same share
    share = 100 * (time.process_time() - cpu) / (time.perf_counter() - wall)
    metrics = sampler.sample({"train_s": 0.2, "train_examples": 1000})
    assert metrics["system/epoch_s"] == pytest.approx(0.4, abs=0.1)
    assert metrics["system/cpu_percent"] == pytest.approx(share, abs=15)  # psutil's ticks are 10 ms
    assert share > 20, "the loop was busy"
    assert metrics["system/rss_mb"] == pytest.approx(
        psutil.Process(os.getpid()).memory_info().rss / 2**20, rel=0.1
    )
    assert metrics["system/train_samples_per_s"] == pytest.approx(5000)
    assert not any(key.startswith("system/gpu") for key in metrics)


def test_the_next_epoch_starts_when_the_report_returns() -> None:
    sampler = SystemSampler()
    sampler.sample({})
    time.sleep(0.3)  # Ray's wait for the report: not the epoch's
    sampler.reported()
    time.sleep(0.05)  # idle: the process's CPU share falls
    metrics = sampler.sample({})
    assert metrics["system/epoch_s"] < 0.2 and metrics["system/cpu_percent"] < 50
    assert "system/train_samples_per_s" not in metrics  # no timing of a training pass: no rate


def test_without_nvml_a_gpu_trial_still_gets_its_cpu_metrics() -> None:
    # No NVIDIA driver here: the handle is None and only the CPU metrics go out (the GPU path is untested).
    metrics = SystemSampler(cuda_device=0).sample({})
    assert set(metrics) == {"system/epoch_s", "system/cpu_percent", "system/rss_mb"}


def test_the_driver_logs_the_names_the_worker_sends() -> None:
    assert PREFIX == SYSTEM_PREFIX
