"""Reading sweeps back: per-epoch histories by either MLflow path, and analysis that needs neither torch nor
Ray."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow.entities import Metric
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from mlflow.tracking import MlflowClient

from analysis.runs import finished, load_history
from analysis.studies import get_study, list_studies, register_study
from analysis.studies.label_noise import with_methods
from mixup_tune.records import tags


def _sweep_with_history(uri: str, runs: int = 3, epochs: int = 4) -> list[str]:
    client = MlflowClient(uri)
    experiment = client.create_experiment("history")
    run_ids = []
    for index in range(runs):
        run = client.create_run(
            experiment, tags={tags.SWEEP: "s", tags.ROLE: "trial", tags.TRIAL_ID: str(index)}
        )
        client.log_batch(
            run.info.run_id,
            metrics=[
                Metric(name, 10.0 * index + epoch + (0.5 if name == "lr" else 0), 0, epoch)
                for epoch in range(1, epochs + 1)
                for name in ("test_error", "lr")
            ],
        )
        run_ids.append(run.info.run_id)
    return run_ids


def test_bulk_and_per_run_history_reads_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_ids = _sweep_with_history(uri)
    bulk = load_history("s", uri)  # sqlite: one query per metric
    assert len(bulk) == 3 * 4 and set(bulk.columns) == {"run_id", "epoch", "test_error", "lr"}
    assert bulk.set_index(["run_id", "epoch"]).loc[(run_ids[2], 3), "test_error"] == 23.0
    # as over a tracking server: a call per run and metric
    monkeypatch.delattr(SqlAlchemyStore, "get_metric_history_bulk")
    per_run = load_history("s", uri)
    pd.testing.assert_frame_equal(
        bulk.sort_values(["run_id", "epoch"]).reset_index(drop=True),
        per_run.sort_values(["run_id", "epoch"]).reset_index(drop=True),
    )
    only_two = load_history("s", uri, ("test_error",), run_ids[:2])
    assert set(only_two["run_id"]) == set(run_ids[:2]) and "lr" not in only_two.columns


def test_label_noise_settings_without_any_dropout_run() -> None:
    runs = pd.DataFrame(
        {"status": ["FINISHED"] * 3, "diverged": [False] * 3, "alpha": [0.0, 1.0, 8.0], "dropout": [0.0] * 3}
    )
    assert list(with_methods(runs)["setting"]) == ["", "alpha=1", "alpha=8"]


def test_the_tables_read_finished_trials_only() -> None:
    runs = pd.DataFrame(
        {"status": ["FINISHED", "FAILED", "FINISHED", "RUNNING"], "diverged": [False, False, True, False]}
    )
    assert list(finished(runs).index) == [0]


def test_every_study_a_sweep_may_name_is_registered_once() -> None:
    from mixup_tune.spec import STUDIES

    assert list_studies() == sorted(set(STUDIES) - {"generic"}), (
        "generic is report.py's fallback, not a registered study"
    )
    uci = get_study("uci")
    assert uci is not None and get_study("no such study") is None
    with pytest.raises(ValueError, match="registered twice"):
        register_study("uci")(uci)


def test_reading_and_analysing_import_neither_torch_nor_ray() -> None:
    """`mixup-tune runs` and `analyze` start in a second, not four: no torch, no Ray (in-between analysis
    excepted)."""
    code = (
        "import sys, analysis, analysis.runs, mixup_tune.cli, mixup_tune.errors; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'ray'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_checking_every_sweep_file_imports_no_torch() -> None:
    """A sweep's driver checks its spec before Ray starts; torch would add 1.3 s to every command. A sweep
    that names a registry method under ``mix:`` (the family's) has its options checked against the
    method's own declarations, which live beside its torch code: those files import torch, and only those."""
    code = (
        "import sys, pathlib; from mixup_tune.spec import load_spec\n"
        "files = sorted(pathlib.Path('sweeps').glob('*.yaml'))\n"
        "family = [p for p in files if 'mix: {method:' in p.read_text()]\n"
        "[load_spec(p) for p in files if p not in family]; print('torch' in sys.modules)\n"
        "[load_spec(p) for p in family]; assert family and 'torch' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
