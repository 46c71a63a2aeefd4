"""The speed options of a trial (precision, channels_last, compile, the fast net) change its speed, not what it learns."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trainables import TrainConfig, Trial, train
from trainables.loop import autocast_dtype


def test_auto_precision_is_bf16_on_cuda_and_fp32_elsewhere() -> None:
    assert autocast_dtype("auto", torch.device("cuda")) is torch.bfloat16
    assert autocast_dtype("auto", torch.device("cpu")) is None
    assert autocast_dtype("fp16", torch.device("cpu")) is torch.float16
    assert autocast_dtype("fp32", torch.device("cuda")) is None


def test_channels_last_gives_nhwc_batches_and_the_same_predictions(colour_npz: Path) -> None:
    options = dict(dataset="npz", data_path=str(colour_npz), model="cnn", device="cpu", seed=1)
    nhwc, nchw = Trial(TrainConfig(**options, channels_last=True)), Trial(TrainConfig(**options, channels_last=False))
    batch = nhwc.inputs(nhwc.x_train[:8])
    assert batch.is_contiguous(memory_format=torch.channels_last) and not batch.is_contiguous()
    assert nchw.inputs(nchw.x_train[:8]).is_contiguous()
    with torch.no_grad():
        assert torch.allclose(nhwc.model.eval()(batch), nchw.model.eval()(nchw.inputs(nchw.x_train[:8])), atol=1e-5)


# fp16 convolutions crawl on a CPU (no native kernels): fp16 is for GPUs, and is checked here on the MLP.
@pytest.mark.parametrize(("precision", "model"), [("bf16", "cnn"), ("fp16", "mlp")])
def test_mixed_precision_learns_what_fp32_learns(precision: str, model: str) -> None:
    """Digits, 8 epochs with mixup: the same training loss within 5%, the best test error within 3 points.

    Not equal: rounding differs from the first step, and one epoch's test error
    on 450 digits moves by a point or two from that alone.
    """
    options = dict(dataset="digits", model=model, alpha=1.0, epochs=8, batch_size=64, device="cpu", seed=0)
    fp32 = train(TrainConfig(**options, precision="fp32")).final
    mixed = train(TrainConfig(**options, precision=precision)).final
    assert mixed["best_test_error"] < 10, mixed  # it learned: chance is 90%
    assert mixed["train_loss"] == pytest.approx(fp32["train_loss"], rel=0.05), (mixed, fp32)
    assert abs(mixed["best_test_error"] - fp32["best_test_error"]) < 3.0, (mixed, fp32)


def test_compiled_training_matches_eager() -> None:
    """torch.compile (inductor, on this CPU) reorders floating-point work, so: close, not equal."""
    options = dict(dataset="digits", model="mlp", alpha=1.0, epochs=2, device="cpu", seed=0)
    eager = train(TrainConfig(**options)).history
    compiled = train(TrainConfig(**options, compile=True)).history
    for a, b in zip(eager, compiled, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert abs(a["test_error"] - b["test_error"]) <= 0.5


def test_the_fast_net_trains_and_refuses_small_images(colour_npz: Path) -> None:
    result = train(TrainConfig(dataset="npz", data_path=str(colour_npz), model="fast_cifar", epochs=2, batch_size=16, alpha=1.0, device="cpu"))
    assert len(result.history) == 2 and not result.diverged
    with pytest.raises(ValueError, match="at least 17x17"):
        Trial(TrainConfig(dataset="digits", model="fast_cifar", device="cpu"))


def test_an_unknown_precision_is_refused() -> None:
    from trainables import ConfigError

    with pytest.raises(ConfigError, match="precision"):
        TrainConfig(precision="int8")  # type: ignore[arg-type]
