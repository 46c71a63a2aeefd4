"""Everything of mixup-tune that leans on Ray's private API or on undocumented behaviour of Ray Tune.

A Ray upgrade is checked here, and by the pin tests beside it (``tests/ray_internals/``, and the resume and
result-file integration tests they name). Checked against **Ray 2.60.0**. No other module names a private
Ray symbol (``tests/test_layout.py`` greps for them).

- ``driver``: a local Ray without prestarted workers, the autoscaler's view, the monitor killed first at
  shutdown, Tune's resume hint left out;
- ``experiment_state``: Tune's saved experiment state found and read as ``Tuner.restore`` does, and its
  ``ExperimentAnalysis`` without DataFrames;
- ``lost_checkpoints``: that state repaired where it names a checkpoint Ray had deleted;
- ``trials``: a ``Trial``'s error file and its metrics' running statistics.
"""

from .driver import NO_WORKER_PRESTART, autoscaler_view, drop_tunes_resume_hint, kill_local_monitor
from .experiment_state import (
    SavedState,
    newest_saved_state,
    result_files_left_unread,
    saved_trial_ends,
    saved_trials,
)
from .lost_checkpoints import Repair, repair_lost_checkpoints, warn_of
from .trials import error_file_name, forget_statistics

__all__ = [
    "NO_WORKER_PRESTART",
    "Repair",
    "SavedState",
    "autoscaler_view",
    "drop_tunes_resume_hint",
    "error_file_name",
    "forget_statistics",
    "kill_local_monitor",
    "newest_saved_state",
    "repair_lost_checkpoints",
    "result_files_left_unread",
    "saved_trial_ends",
    "saved_trials",
    "warn_of",
]
