"""A sweep's MLflow record: tag names, metric names, finding runs, logged models, and ``SweepRecord``, its one
writer.

Needs MLflow only, never Ray, so ``analysis`` reads runs back through this
package alone (an import-linter contract holds it so).
"""

from . import tags
from .models import load_trained
from .names import (
    CLASSIFIER_METRICS,
    EPOCH_METRICS,
    GAN_METRICS,
    MODEL_DIR,
    MODEL_FILE,
    PROGRESS_METRIC,
    SNAPSHOT_DIR,
    snapshot_name,
)
from .store import (
    check_tracking,
    configure_mlflow_client,
    default_tracking_uri,
    error_line,
    find_parent,
    find_runs,
    parse_param,
    sqlite_file,
    trial_key,
)
from .sweep import SweepRecord

__all__ = [
    "CLASSIFIER_METRICS",
    "EPOCH_METRICS",
    "GAN_METRICS",
    "MODEL_DIR",
    "MODEL_FILE",
    "PROGRESS_METRIC",
    "SNAPSHOT_DIR",
    "SweepRecord",
    "check_tracking",
    "configure_mlflow_client",
    "default_tracking_uri",
    "error_line",
    "find_parent",
    "find_runs",
    "load_trained",
    "parse_param",
    "snapshot_name",
    "sqlite_file",
    "tags",
    "trial_key",
]
