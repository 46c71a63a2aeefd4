"""mixup_tune.optuna_study over a real Optuna sqlite storage, without Ray's trials: where a sweep's study
lives, what `plan` reads from it, and how `run` continues a study its last driver left (the whole path, with
Ctrl-C and resume: tests/integration/test_optuna_storage.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from mixup_tune.errors import UserError
from mixup_tune.optuna_study import finished_in_study, open_storage, optuna_searcher, storage_url
from mixup_tune.spec import SweepSpec, validate_spec


def _spec(**tune: Any) -> SweepSpec:
    return validate_spec(
        {
            "name": "tpe",
            "trainable": {"dataset": "digits", "model": "mlp", "epochs": 1},
            "search": {"alpha": {"uniform": [0, 2]}},
            "tune": {"algorithm": "optuna", "num_samples": 5, "seed": 3, **tune},
        }
    )


def test_the_study_lives_beside_an_sqlite_store_else_in_rays_storage_else_where_it_is_told(
    tmp_path: Path,
) -> None:
    beside = storage_url(_spec(), f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "ray"))
    assert beside == f"sqlite:///{tmp_path / 'optuna.db'}"
    in_ray = storage_url(_spec(), "http://127.0.0.1:5000", f"file://{tmp_path / 'ray'}")
    assert in_ray == f"sqlite:///{tmp_path / 'ray' / 'optuna.db'}"
    told = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    assert storage_url(_spec(optuna_storage=told), "http://127.0.0.1:5000", "s3://bucket/ray") == told
    with pytest.raises(UserError) as refused:  # a cloud bucket is no place for an sqlite file
        storage_url(_spec(), "http://127.0.0.1:5000", "s3://bucket/ray")
    assert "\n" not in str(refused.value) and "is not on this machine" in str(refused.value)


def test_a_storage_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "not-a-db").write_text("plain text\n")
    with pytest.raises(UserError) as refused:
        open_storage(f"sqlite:///{tmp_path / 'not-a-db'}")
    message = str(refused.value)
    assert (
        "\n" not in message
        and message.startswith("tune.optuna_storage sqlite:///")
        and "cannot open it" in message
    )


def _study_with(url: str, states: list[TrialState]) -> optuna.Study:
    study = optuna.create_study(study_name="tpe", storage=url)
    for number, state in enumerate(states):
        trial = study.ask({"alpha": optuna.distributions.FloatDistribution(0, 2)})
        if state != TrialState.RUNNING:
            study.tell(trial, float(number) if state == TrialState.COMPLETE else None, state=state)
    return study


def test_plan_counts_the_finished_trials_and_creates_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    assert finished_in_study("tpe", url) is None and not (tmp_path / "optuna.db").exists()
    open_storage(url)
    assert finished_in_study("tpe", url) == 0
    _study_with(url, [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING])
    assert finished_in_study("tpe", url) == 2, "COMPLETE and PRUNED ended; FAIL and RUNNING did not"
    assert finished_in_study("tpe", "postgresql://nobody@127.0.0.1:1/none") is None, "not read: not a file"


def test_run_continues_a_stored_study_failing_what_no_driver_finishes_and_asking_only_what_is_missing(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    assert optuna_searcher(_spec(), url)[1] == 5, "no study yet: every sample to run"
    _study_with(url, [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.RUNNING])
    _, missing = optuna_searcher(_spec(), url)
    assert missing == 3, "5 asked for, 2 finished"
    trials = optuna.load_study(study_name="tpe", storage=url).get_trials()
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL]
    assert optuna_searcher(_spec(num_samples=2), url)[1] == 0, "more finished than asked: none to run"
