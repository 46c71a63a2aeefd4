"""The names a sweep's runs are logged under: per-epoch metrics and artifact paths.

One home for them: the driver logs under these names and the analysis reads them back.
"""

from __future__ import annotations

# Per-epoch metrics, logged with step = epoch; errors in %. A GAN trial's epoch is gan.iterations_per_epoch
# generator iterations.
CLASSIFIER_METRICS = (
    "test_error",
    "test_error_top5",
    "train_error_real",
    "train_error_corrupted",
    "val_error",
    "train_loss",
    "lr",
    # calibration on the unmixed test set (trainables.calibration): ECE and mean confidence in %, NLL in nats
    "test_ece",
    "test_nll",
    "test_confidence",
)
GAN_METRICS = ("iteration", "d_loss", "g_loss", "modes_covered", "high_quality", "sample_distance")
EPOCH_METRICS = CLASSIFIER_METRICS + GAN_METRICS
# A trial's system metrics, sampled in its worker (mixup_tune.system_metrics), logged as they come, by name:
# system/epoch_s, system/train_samples_per_s, system/cpu_percent, system/rss_mb, and with a GPU
# system/gpu_utilization and system/gpu_memory_mb
SYSTEM_PREFIX = "system/"
# A trial's evaluations of the user's own (trainables.register_metric), logged as they come, by name:
# metric/<name>
METRIC_PREFIX = "metric/"
# A result's keys that are not metrics, of the project's own: the step, the trainable's bookkeeping (a tag, a
# running best and a count logged once at the end, the timing the system metrics are made of) and what the
# driver adds. And the keys Ray Tune adds to every result (Ray 2.60's ray.tune.result.AUTO_RESULT_KEYS, which
# test_metric_pass_through holds this equal to). Every other numeric key a trainable reports is logged as a
# metric by its own name: a new metric needs no edit here.
NOT_METRICS = frozenset(
    {
        "epoch",
        "diverged",
        "best_test_error",
        "labels_changed",
        "train_s",
        "train_examples",
        "compute_s",
        "threads",
    }
)
RAY_RESULT_KEYS = frozenset(
    {
        "training_iteration",
        "time_total_s",
        "episodes_total",
        "timesteps_total",
        "node_ip",
        "hostname",
        "pid",
        "time_this_iter_s",
        "timestamp",
        "date",
        "time_since_restore",
        "timesteps_since_restore",
        "iterations_since_restore",
        "config",
        "checkpoint_dir_name",
    }
)


def is_metric(key: str, value: object) -> bool:
    """Whether a result's ``key`` is logged as a metric: a number (not a flag) under a name of its own."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and key not in NOT_METRICS
        and key not in RAY_RESULT_KEYS
    )


# Logged every epoch by every trial of the task.
PROGRESS_METRIC = {"classify": "test_error", "gan": "sample_distance"}
# What a search or ASHA may optimise (``tune.metric``), per task.
CLASSIFIER_OBJECTIVES = ("test_error", "val_error", "train_error_real", "train_loss", "test_nll", "test_ece")
# What a GAN trial's SampleQuality measures (trainables.tasks.gan_targets); distance first, its objectives.
GAN_QUALITY_METRICS = ("modes_covered", "high_quality", "sample_distance")
GAN_OBJECTIVES = GAN_QUALITY_METRICS[::-1]
SNAPSHOT_DIR = "snapshots"  # a GAN trial's generated points at gan.snapshots iterations (Figure 5)
# a classifier's last evaluation: its confidence bins ({"epoch", "count", "confidence_sum", "correct_sum"}),
# from which analysis draws reliability diagrams
RELIABILITY_ARTIFACT = "calibration/reliability.json"
MODEL_DIR, MODEL_FILE = "model", "model.pt"  # a trial's final weights and config, when the sweep logs them


def snapshot_name(iteration: int, suffix: str) -> str:
    """``snapshots/iteration_NNNNNN.json`` (the points, for the analysis) or ``.png`` (for the MLflow UI)."""
    return f"{SNAPSHOT_DIR}/iteration_{iteration:06d}.{suffix}"
