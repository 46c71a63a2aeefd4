"""The training tasks and ``train``, which picks one for a config.

- ``classify``: the in-memory classifier ``Trial`` (every study but ImageNet's and the GAN's);
- ``stream``: ``StreamingTrial``, the same trial on image folders read batch by batch
  (``imagefolder_stream``);
- ``gan``: Section 3.7's toy GAN (``task: gan``).

They know nothing of Ray or MLflow. After every epoch they call ``on_epoch(metrics,
checkpoint)``: ``metrics`` are the epoch's numbers (errors in percent, as the
paper reports them), with the training pass's timing beside them (``TIMING``:
``history_entry`` drops it), and ``checkpoint()`` returns the full state, which
resumes the trial bit for bit when passed back as ``resume_state``.
"""

from __future__ import annotations

from typing import Any

from ..config import TrainConfig
from ..data import STREAMED, Splits
from ._classifier import ClassifierTrial, run_epochs
from ._common import TIMING, Metrics, OnEpoch, TrainResult, history_entry
from .classify import Trial


def train(
    config: TrainConfig,
    on_epoch: OnEpoch | None = None,
    resume_state: dict[str, Any] | None = None,
    splits: Splits | None = None,
) -> TrainResult:
    """Train one trial for ``config.epochs`` epochs, or on from ``resume_state``.

    Stops early, with ``diverged`` set, when the training loss is NaN or
    infinite: a diverged config would only diverge again.
    """
    if config.task == "gan":
        from .gan import train_gan  # only GAN trials pay for its targets' imports

        return train_gan(config, on_epoch, resume_state)
    if config.dataset in STREAMED:
        from .stream import StreamingTrial  # only streamed trials import the DataLoader

        trial: ClassifierTrial = StreamingTrial(config)
    else:
        trial = Trial(config, splits)
    return run_epochs(trial, on_epoch, resume_state)


__all__ = [
    "TIMING",
    "ClassifierTrial",
    "Metrics",
    "OnEpoch",
    "TrainResult",
    "Trial",
    "history_entry",
    "train",
]
