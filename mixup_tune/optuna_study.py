"""An Optuna sweep's study, kept in persistent storage under the sweep's name.

Ray's ``OptunaSearch`` keeps its study in memory by default, so a sweep's
Optuna state was lost with its driver (ray#30861), and Optuna's dashboard had
nothing to show (ray#48500). Here the study lives in an Optuna storage: by
default an sqlite file beside the MLflow sqlite store, else in Ray's storage,
or the URL given as ``tune.optuna_storage``. ``optuna-dashboard URL`` shows it
while the sweep runs.

- ``resume`` restores Ray's pickled searcher, whose study is the stored one
  and whose sampler continues from its saved state.
- ``run`` of a sweep whose study exists continues the study: trials that no
  driver finishes any more (RUNNING in the study) are marked FAIL, only the
  trials still missing from ``num_samples`` are asked for, and the sampler is
  seeded past the seeds already used, so that its first, random samples are
  not the ones the study already holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from trainables.errors import first_line

from .errors import UserError
from .records import sqlite_file
from .spec import SweepSpec

if TYPE_CHECKING:
    import optuna
    from ray.tune.search.optuna import OptunaSearch

STUDY_FILE = "optuna.db"


def storage_url(spec: SweepSpec, tracking_uri: str, storage_root: str) -> str:
    """Where the sweep's study lives: ``tune.optuna_storage``, else an sqlite file beside the MLflow sqlite
    store, else one in Ray's storage on this machine."""
    if spec.tune.optuna_storage:
        return spec.tune.optuna_storage
    database = sqlite_file(tracking_uri)
    if database is not None:
        return f"sqlite:///{database.parent / STUDY_FILE}"
    if "://" in storage_root and not storage_root.startswith("file://"):
        raise UserError(
            f"tune.optuna_storage: Ray's storage {storage_root} is not on this machine; give the Optuna "
            "study a storage URL (sqlite:///PATH or postgresql://...)"
        )
    return f"sqlite:///{Path(storage_root.removeprefix('file://')).resolve() / STUDY_FILE}"


def open_storage(url: str) -> optuna.storages.RDBStorage:
    """The Optuna storage at ``url`` (created on first use); one line and exit 2 when it cannot be opened.
    The runner opens it before the sweep's MLflow record, so a bad URL leaves no run behind."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        database = sqlite_file(url)
        if database is not None:  # Ray's storage may not be there yet
            database.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.RDBStorage(url)
    except Exception as error:  # whatever SQLAlchemy or Optuna raised: no study can be kept there
        raise UserError(f"tune.optuna_storage {url}: cannot open it ({first_line(error)})") from None


def finished_in_study(name: str, url: str) -> int | None:
    """Trials of the study ``name`` at ``url`` that ended (COMPLETE or PRUNED), read without creating
    anything: None for a storage that is not an sqlite file already there (``mixup-tune plan``)."""
    database = sqlite_file(url)
    if database is None or not database.exists():
        return None
    import optuna
    from optuna.trial import TrialState

    storage = open_storage(url)
    if name not in optuna.get_all_study_names(storage):
        return 0
    study = optuna.load_study(study_name=name, storage=storage)
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


def optuna_searcher(spec: SweepSpec, url: str) -> tuple[OptunaSearch, int]:
    """Ray's ``OptunaSearch`` on the sweep's stored study, and how many trials it still has to run."""
    import optuna
    from optuna.trial import TrialState
    from ray.tune.search.optuna import OptunaSearch

    storage = open_storage(url)
    held, finished = 0, 0
    if spec.name in optuna.get_all_study_names(storage):
        study = optuna.load_study(study_name=spec.name, storage=storage)
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
            storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)  # its driver is gone
        held = len(study.get_trials(deepcopy=False))
        finished = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
    sampler = optuna.samplers.TPESampler(seed=spec.tune.seed + held)
    searcher = OptunaSearch(sampler=sampler, storage=storage, study_name=spec.name)
    return searcher, max(spec.tune.num_samples - finished, 0)
