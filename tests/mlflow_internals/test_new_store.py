"""A new sqlite store copied from the migrated template (mixup_tune.mlflow_internals.new_store) against
MLflow's own new store as the oracle: the same schema, rows and default experiment, and a store that works."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from mixup_tune.mlflow_internals.new_store import CACHE_VARIABLE, create_sqlite_store
from mixup_tune.records import check_tracking

VARIES = {"creation_time", "last_update_time"}  # of the default experiment: when the store was made


def _contents(path: Path) -> dict[str, object]:
    """Every table's definition and rows (the default experiment's times left out), and the schema version."""
    with contextlib.closing(sqlite3.connect(path)) as database:
        # MLflow's migrations rebuild some tables with their constraints in another order from one new
        # store to the next (two that MLflow makes differ so too): definitions are compared line by line,
        # unordered
        schema = sorted(
            (
                (kind, name, sorted(line.strip().rstrip(",") for line in (sql or "").splitlines()))
                for kind, name, sql in database.execute("SELECT type, name, sql FROM sqlite_master")
            ),
            key=str,
        )
        tables = [name for kind, name, _ in schema if kind == "table"]
        rows = {}
        for table in tables:
            cursor = database.execute(f'SELECT * FROM "{table}"')
            columns = [column[0] for column in cursor.description]
            rows[table] = sorted(
                (tuple((c, v) for c, v in zip(columns, row) if c not in VARIES) for row in cursor), key=str
            )
    return {"schema": schema, "rows": rows}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # the default experiment's artifact location is under the working directory
    return tmp_path / "cache"


def test_a_copied_store_equals_the_one_mlflow_makes(tmp_path: Path, cache: Path) -> None:
    oracle, first, second = tmp_path / "oracle.db", tmp_path / "first.db", tmp_path / "second.db"
    MlflowClient(f"sqlite:///{oracle}").search_experiments()
    check_tracking(f"sqlite:///{first}")  # makes the template, then copies it
    assert [p.name for p in cache.iterdir()] == [f"mlflow-{__import__('mlflow').__version__}-empty.db"]
    assert create_sqlite_store(second) and check_tracking(f"sqlite:///{second}")
    expected = _contents(oracle)
    assert expected["rows"]["experiments"], "MLflow's store has its default experiment"  # type: ignore[index]
    assert _contents(first) == expected
    assert _contents(second) == expected

    client = MlflowClient(f"sqlite:///{second}")
    experiment = client.create_experiment("works")
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "test_error", 12.5, step=3)
    client.set_terminated(run.info.run_id)
    [metric] = client.get_metric_history(run.info.run_id, "test_error")
    assert (metric.value, metric.step) == (12.5, 3)
    assert client.get_experiment("0").artifact_location == str(tmp_path / "mlruns" / "0")


def test_an_existing_store_is_never_replaced(tmp_path: Path, cache: Path) -> None:
    store = tmp_path / "mlflow.db"
    client = MlflowClient(f"sqlite:///{store}")
    client.create_experiment("kept")
    before = store.read_bytes()
    assert not create_sqlite_store(store)
    assert store.read_bytes() == before
    assert not list(tmp_path.glob(".mlflow.db.*")), "no copy left behind"


def test_without_a_cache_to_write_mlflow_makes_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("")
    monkeypatch.setenv(CACHE_VARIABLE, str(tmp_path / "file" / "cache"))  # under a file: cannot be made
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "mlflow.db"
    assert not create_sqlite_store(store) and not store.exists()
    assert check_tracking(f"sqlite:///{store}").get_experiment("0").name == "Default"
