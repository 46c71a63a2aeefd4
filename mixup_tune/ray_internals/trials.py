"""Two things of Ray Tune's ``Trial`` that its public API does not give: the name of its error file, and the
running statistics it keeps of every metric.

Private: ``Trial.run_metadata`` (``ray.tune.trainable.metadata._TrainingRunMetadata``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ray.tune.experiment import Trial


def error_file_name(trial: Trial) -> str | None:
    """The name of the file in the trial's directory that holds its traceback (None before it failed)."""
    name: str | None = trial.run_metadata.error_filename
    return name


def forget_statistics(trial: Trial) -> None:
    """Drop the running statistics Ray keeps of every metric of a trial that has ended.

    For each numeric result key Ray keeps the min, max, mean and the last 5 and 10 values (two deques), for
    every trial, to the sweep's end, in the driver and in each snapshot of its saved state. Nothing here
    reads them (MLflow holds the results; Ray's saved state keeps each trial's last result), and a trial
    that has ended reports nothing more. With ~26 such keys they were ~55 KB of the ~170 KB the driver
    grew by per trial (BENCHMARKS.md, 10,000 trials). Both go together, so should Ray ever update them
    again it starts them afresh; a Ray without them is left as it is.
    """
    metadata = getattr(trial, "run_metadata", None)
    if metadata is not None and getattr(metadata, "metric_analysis", None):
        metadata.metric_analysis = {}
        metadata.metric_n_steps = {}
