"""An Optuna sweep's study in persistent storage: stopped with Ctrl-C, resumed, then run again with more
samples. The study holds every trial exactly once, no finished trial runs again, and the study's values
are the MLflow runs' metrics. A real local Ray, real MLflow stores (sqlite and a server), real training.
"""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import optuna
import pytest
from helpers import cli_in_process, start_sweep, storage_matrix, tracking_store
from mlflow.tracking import MlflowClient

from mixup_tune.records import parse_param

pytestmark = pytest.mark.integration

SAMPLES = 6
EPOCHS = 100
SPEC = f"""\
name: tpe
experiment: mixup-optuna
trainable: {{dataset: digits, model: mlp, hidden_sizes: [64], epochs: {EPOCHS}, batch_size: 128}}
search: {{alpha: {{uniform: [0, 2]}}, optimizer.lr: {{loguniform: [0.01, 0.3]}}}}
tune: {{algorithm: optuna, num_samples: {SAMPLES}, max_concurrent_trials: 2, seed: 5,
       checkpoint_interval_s: 0.5}}
resources: {{cpu: 1, gpu: 0}}
"""


def _trial_runs(client: MlflowClient) -> list:
    experiment = client.get_experiment_by_name("mixup-optuna")
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id], "tags.`mixup_tune.role` = 'trial'")


def _setting(run: object) -> tuple[float, float]:
    params = run.data.params  # type: ignore[attr-defined]
    return parse_param(params["alpha"]), parse_param(params["optimizer.lr"])


# The study's own storage is a sqlite file beside MLflow's sqlite store, or in Ray's storage beside a tracking
# server (optuna_study.storage_url): sqlite and a server cover both. Behind the server, PostgreSQL or sqlite
# changes only MLflow's side, whose resume runs in every mode in test_resume_integration.
@pytest.mark.parametrize("storage", storage_matrix()[:2])  # the server's in the slow tier
def test_a_resumed_optuna_sweep_continues_its_stored_study(tmp_path: Path, storage: str) -> None:
    (tmp_path / "mlflow").mkdir()
    with tracking_store(storage, tmp_path / "mlflow") as uri:
        _stop_resume_and_grow(tmp_path, uri)


def _stop_resume_and_grow(tmp_path: Path, uri: str) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC)
    client = MlflowClient(uri)
    args = ["--tracking-uri", uri, "--storage", str(tmp_path / "ray"), "--quiet"]
    run = start_sweep(tmp_path, "spec.yaml", args)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # stop once some trials finished and others run
        states = [r.info.status for r in _trial_runs(client)]
        if states.count("FINISHED") >= 2 and "RUNNING" in states:
            break
        time.sleep(0.3)
    run.send_signal(signal.SIGINT)
    output, _ = run.communicate(timeout=120)
    assert run.returncode == 130, output[-3000:]
    url = re.search(r"optuna-dashboard (\S+)", output)
    assert url, output[-2000:]
    before = {r.info.run_id: r for r in _trial_runs(client) if r.info.status == "FINISHED"}
    assert 2 <= len(before) < SAMPLES

    resumed = cli_in_process("resume", "tpe", *args, cwd=tmp_path)  # on this module's Ray
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    _check_study_equals_mlflow(url[1], client, SAMPLES)
    after = {r.info.run_id: r for r in _trial_runs(client)}
    for run_id, finished in before.items():  # finished before the stop: not run again
        assert after[run_id].info.end_time == finished.info.end_time
        assert len(client.get_metric_history(run_id, "test_error")) == EPOCHS

    planned = cli_in_process(
        "plan", "spec.yaml", "--tracking-uri", uri, "--set", "tune.num_samples=8", cwd=tmp_path
    )
    if uri.startswith("sqlite"):  # the study is an sqlite file beside the store: plan reads it
        assert re.search(r"already FINISHED, skipped\s+│\s+6\b", planned.stdout), planned.stdout
        assert re.search(r"trials `run` starts\s+│\s+2\b", planned.stdout), planned.stdout
    grown = cli_in_process("run", "spec.yaml", *args, "--set", "tune.num_samples=8", cwd=tmp_path)
    assert grown.returncode == 0, grown.stdout[-3000:] + grown.stderr[-3000:]
    assert re.search(r"trials run this time\s+│\s+2\b", grown.stdout), grown.stdout
    _check_study_equals_mlflow(url[1], client, 8)
    assert {run_id: r.info.end_time for run_id, r in after.items()} == {
        r.info.run_id: r.info.end_time for r in _trial_runs(client) if r.info.run_id in after
    }, "the 6 trials of the first run were not run again"


def _check_study_equals_mlflow(url: str, client: MlflowClient, count: int) -> None:
    study = optuna.load_study(study_name="tpe", storage=url)
    trials = study.get_trials()
    assert len(trials) == count and {t.state for t in trials} == {optuna.trial.TrialState.COMPLETE}
    settings = [(t.params["alpha"], t.params["optimizer.lr"]) for t in trials]
    assert len(set(settings)) == count, "no setting twice"
    runs = _trial_runs(client)
    assert len(runs) == count and {r.info.status for r in runs} == {"FINISHED"}
    by_setting = {_setting(run): run.data.metrics["val_error"] for run in runs}
    assert {setting: t.value for setting, t in zip(settings, trials)} == by_setting
