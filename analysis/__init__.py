"""Read mixup-tune sweeps back from MLflow and regenerate the paper's tables and figures."""

from .report import SweepRunning, analyze
from .runs import NoRunsError, load_history, load_runs, varying_options
from .stats import seed_stats

__all__ = [
    "NoRunsError",
    "SweepRunning",
    "analyze",
    "load_history",
    "load_runs",
    "seed_stats",
    "varying_options",
]
