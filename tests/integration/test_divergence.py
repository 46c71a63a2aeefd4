"""A trial whose loss turns NaN stops at once, is marked diverged, is not retried, and does not break
analysis."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from helpers import cli_in_process
from mlflow.tracking import MlflowClient

from mixup_tune.ray_internals import saved_trial_ends, saved_trials

pytestmark = pytest.mark.integration

SPEC = """\
name: diverging
study: bias_variance
trainable: {dataset: digits, model: mlp, hidden_sizes: [32], epochs: 20, batch_size: 128}
search:
  alpha: [0, 1]
  optimizer.lr: [0.05, 1.0e+6]
tune: {max_failures: 2}
resources: {cpu: 1, gpu: 0}
"""


def test_diverged_trials_stop_are_marked_and_left_out(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(SPEC)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run = cli_in_process(
        "run", "spec.yaml", "--tracking-uri", uri, "--storage", str(tmp_path / "ray"), "--quiet", cwd=tmp_path
    )
    # divergence is an outcome, not a failure
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "diverged (stopped, not retried) │ 2" in run.stdout
    # The sweep's end counts these from Ray's saved state read as plain JSON: what Ray's own reader gives
    saved = saved_trials(str(tmp_path / "ray" / "diverging"))
    assert saved_trial_ends(str(tmp_path / "ray" / "diverging")) == [(t.status, t.last_result) for t in saved]
    assert sum(bool(t.last_result.get("diverged")) for t in saved) == 2
    client = MlflowClient(uri)
    trials = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], "tags.`mixup_tune.role` = 'trial'"
    )
    assert len(trials) == 4
    for trial in trials:
        history = client.get_metric_history(trial.info.run_id, "test_error")
        steps = [int(m.step) for m in history]
        assert len(steps) == len(set(steps)), "one attempt only: no epoch logged twice"
        assert trial.info.status == "FINISHED"
        if trial.data.params["optimizer.lr"] == "1000000.0":
            assert trial.data.tags.get("mixup_tune.diverged") == "true"
            assert len(steps) < 20, "stopped at once"
        else:
            assert "mixup_tune.diverged" not in trial.data.tags and len(steps) == 20

    out = tmp_path / "report"
    analyzed = cli_in_process("analyze", "diverging", "--tracking-uri", uri, "--out", str(out), cwd=tmp_path)
    assert analyzed.returncode == 0, analyzed.stderr
    table = pd.read_csv(out / "bias_variance.csv")
    assert list(table["last_test_error_n"]) == [1, 1], "the diverged trials are left out"
    assert table["last_test_error_mean"].notna().all() and table["best_alpha"].sum() == 1
    assert "2 diverged" in (out / "report.md").read_text()
    listed = cli_in_process("runs", "diverging", "--tracking-uri", uri, cwd=tmp_path)
    assert listed.returncode == 0 and "4 trials" in listed.stdout
