"""A trial's system metrics, sampled in its Ray worker and sent with each epoch's result.

The worker never talks to MLflow: these travel in the result dict through
Ray, and the driver logs them under ``system/`` (``records.sweep``), as
MLflow's own system metrics are named. Per epoch:

- ``system/epoch_s``: the epoch's seconds in the worker, training and
  evaluation, from one report to the next (Ray's wait for the report excluded);
- ``system/train_samples_per_s``: training examples over the training pass's
  seconds (the trainable times it: ``train_s``, ``train_examples``);
- ``system/cpu_percent``: the worker process's CPU time over the epoch's wall
  time (psutil; 100 is one core busy);
- ``system/rss_mb``: the worker process's resident memory (MiB);
- with a GPU, ``system/gpu_utilization`` (% of the time a kernel ran on the
  trial's device, NVML's sample: the whole device, so trials sharing a GPU
  see each other's) and ``system/gpu_memory_mb`` (this process's memory on it).

The GPU path reads NVML through ``nvidia-ml-py``; it has not run here (no GPU
was lent to the sessions that wrote it).
"""

from __future__ import annotations

import os
import time
from typing import Any

import psutil

PREFIX = "system/"


class SystemSampler:
    """Samples the worker's process (and its GPU) once per epoch; ``sample`` then ``reported``."""

    def __init__(self, cuda_device: int | None = None) -> None:
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # the first call only starts psutil's interval
        self._since = time.perf_counter()
        self._gpu = _nvml_handle(cuda_device) if cuda_device is not None else None

    def sample(self, result: dict[str, Any]) -> dict[str, float]:
        """The epoch's system metrics; ``result`` may hold ``train_s`` and ``train_examples`` (the
        trainable's timing of its training pass)."""
        metrics = {
            f"{PREFIX}epoch_s": time.perf_counter() - self._since,
            f"{PREFIX}cpu_percent": self._process.cpu_percent(None),
            f"{PREFIX}rss_mb": self._process.memory_info().rss / 2**20,
        }
        train_s, examples = result.get("train_s"), result.get("train_examples")
        if train_s and examples:
            metrics[f"{PREFIX}train_samples_per_s"] = float(examples) / float(train_s)
        if self._gpu is not None:
            metrics.update(_gpu_metrics(self._gpu))
        return metrics

    def reported(self) -> None:
        """The report returned: the next epoch starts now."""
        self._since = time.perf_counter()


def _nvml_handle(device: int) -> Any:
    """NVML's handle for the CUDA device ``device`` of this process, through CUDA_VISIBLE_DEVICES (Ray sets
    it per trial: the process's device 0 is the trial's GPU). None without NVML."""
    try:
        import pynvml

        pynvml.nvmlInit()
        visible = [v for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
        name = visible[device].strip() if device < len(visible) else str(device)
        if name.isdigit():
            return pynvml.nvmlDeviceGetHandleByIndex(int(name))
        return pynvml.nvmlDeviceGetHandleByUUID(name)
    except Exception:  # no NVML library, no driver: the CPU metrics still go out
        return None


def _gpu_metrics(handle: Any) -> dict[str, float]:
    import pynvml

    try:
        utilization = float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        mine = [
            p.usedGpuMemory
            for p in pynvml.nvmlDeviceGetComputeRunningProcesses(handle)
            if p.pid == os.getpid() and p.usedGpuMemory is not None
        ]
    except pynvml.NVMLError:
        return {}
    metrics = {f"{PREFIX}gpu_utilization": utilization}
    if mine:
        metrics[f"{PREFIX}gpu_memory_mb"] = sum(mine) / 2**20
    return metrics
