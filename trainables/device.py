"""Where a trial runs and how: the device, CUDA's determinism, and the autocast dtype of its precision."""

from __future__ import annotations

import os

import torch


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def configure_determinism(deterministic: bool, device: torch.device) -> None:
    """On CUDA, deterministic kernels or the fastest ones; on a CPU, nothing (its kernels already repeat bit
    for bit, tests/trainables/test_resume.py).

    Set for each trial, as a reused Ray worker may have run another. cuBLAS reads
    CUBLAS_WORKSPACE_CONFIG when it makes its first handle, so this runs before
    the model reaches the GPU. PyTorch's deterministic mode only warns on an op
    that has no deterministic CUDA kernel (warn_only): the paper's networks use
    none that we know of, but torchvision's ImageNet ResNets pool adaptively, and
    their backward has none. Not tested on a GPU here (benchmarks/gpu_check.py does).
    """
    if device.type != "cuda":
        return
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = not deterministic
    torch.backends.cudnn.deterministic = deterministic
    torch.use_deterministic_algorithms(deterministic, warn_only=True)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision``, or None for plain fp32. ``auto`` is bf16 on CUDA only:
    on a CPU, bf16 is fast only where it has AMX or AVX-512 BF16, so it is asked for by name there."""
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
