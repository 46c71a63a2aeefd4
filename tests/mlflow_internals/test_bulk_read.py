"""The bulk read of a sweep's runs from MLflow's SQL store (mixup_tune.mlflow_internals.bulk_read) against
MLflow's own ``search_runs`` as the oracle, on sqlite and on PostgreSQL: the same runs, in the same order,
with the same info, params, tags and latest metrics (NaN, infinities and several steps included); deleted
runs and experiments, other sweeps and other roles left out alike. (A tracking server's client is searched
instead: every integration test's server and PostgreSQL modes read through that.)"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import postgres_server
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from mixup_tune.mlflow_internals.bulk_read import read_runs
from mixup_tune.records import find_runs, tags
from mixup_tune.records.store import _searched, _sweep_filter

SWEEP = "mixup_cifar-10.a"  # every kind of character a sweep name may have (spec.py)


@pytest.fixture(params=["sqlite", "postgres"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MlflowClient]:
    uri = (
        f"sqlite:///{tmp_path / 'mlflow.db'}"
        if request.param == "sqlite"
        else postgres_server().new_database()
    )
    yield MlflowClient(uri)


def _run(client: MlflowClient, experiment_id: str, sweep: str, role: str, index: int, start: int) -> str:
    run = client.create_run(
        experiment_id,
        start_time=start,
        tags={tags.SWEEP: sweep, tags.ROLE: role, tags.TRIAL_ID: f"t{index}"},
        run_name=f"trial-{index}" if index % 3 else None,  # MLflow names the rest itself
    )
    run_id = run.info.run_id
    client.log_batch(
        run_id,
        params=[Param("alpha", str(index / 10)), Param("model", "mlp"), Param("widths", "[4, 8]")],
        metrics=[Metric("test_error", 1.0 / (index + step), start + step, step) for step in (1, 2, 3)]
        + [Metric("train_loss", [math.nan, math.inf, -math.inf, 0.5][index % 4], start, 3)],
        tags=[RunTag("note", f"run {index}")],
    )
    return run_id


@pytest.fixture
def filled(client: MlflowClient) -> tuple[MlflowClient, list[str]]:
    """Two experiments of one sweep's runs (four starting at each ms: run ids break the tie), and the
    runs every read must leave out."""
    first, second = client.create_experiment("first"), client.create_experiment("second")
    gone = client.create_experiment("deleted experiment")
    ids = []
    for index in range(12):
        start = 1_700_000_000_000 + (index // 4) * 1000  # ties in start time
        ids.append(_run(client, first if index % 2 else second, SWEEP, "trial", index, start))
    client.set_terminated(ids[0], "FINISHED")
    client.set_terminated(ids[1], "FAILED")
    client.delete_run(ids[2])
    _run(client, first, SWEEP, "parent", 99, 1_700_000_000_000)
    _run(client, first, "another sweep", "trial", 98, 1_700_000_000_000)
    _run(client, gone, SWEEP, "trial", 97, 1_700_000_000_000)
    client.delete_experiment(gone)
    return client, [first, second]


def _described(run: Any) -> tuple[Any, ...]:
    """A run as compared: its info and data, each metric with its step and time (NaN as its text)."""
    metrics = sorted((m.key, repr(m.value), m.timestamp, m.step) for m in run.data._metric_objs)
    return (
        run.info.to_proto().SerializeToString(deterministic=True),
        sorted(run.data.params.items()),
        sorted(run.data.tags.items()),
        metrics,
        {key: repr(value) for key, value in run.data.metrics.items()},
    )


CASES = [
    {"role": "trial"},
    {"role": "parent"},
    {"role": "trial", "trial_id": "t5"},
    {"role": "trial", "status": "RUNNING"},
    {"role": "trial", "status": "FINISHED"},
    {"role": "nobody"},
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: "-".join(map(str, case.values())))
@pytest.mark.parametrize("experiments", ["all", "one"])
def test_the_bulk_read_finds_what_search_runs_finds(
    filled: tuple[MlflowClient, list[str]], case: dict[str, str], experiments: str
) -> None:
    client, experiment_ids = filled
    if experiments == "all":
        experiment_ids = [e.experiment_id for e in client.search_experiments()]
    else:
        experiment_ids = experiment_ids[:1]
    role, trial_id, status = case["role"], case.get("trial_id"), case.get("status")
    wanted = {tags.SWEEP: SWEEP, tags.ROLE: role} | ({tags.TRIAL_ID: trial_id} if trial_id else {})
    bulk = read_runs(client, experiment_ids, wanted, status)
    oracle = _searched(client, experiment_ids, _sweep_filter(SWEEP, role, trial_id, status))
    assert bulk is not None, "a SQL store is read in bulk"
    assert [_described(run) for run in bulk] == [_described(run) for run in oracle]
    found = find_runs(client, SWEEP, role, trial_id, experiment_ids, status)  # what every caller gets
    assert [_described(run) for run in found] == [_described(run) for run in oracle]


def test_the_reads_are_not_empty_where_they_should_not_be(filled: tuple[MlflowClient, list[str]]) -> None:
    """The oracle comparison above would pass on two empty lists: the sweep's own runs are all there."""
    client, _ = filled
    runs = find_runs(client, SWEEP, "trial")
    assert len(runs) == 11, "12 trial runs, one deleted"
    assert {run.info.status for run in runs} == {"RUNNING", "FINISHED", "FAILED"}
    assert sum(math.isnan(run.data.metrics["train_loss"]) for run in runs) == 3
    assert all(
        run.data.metrics["test_error"] == 1.0 / (int(run.data.tags[tags.TRIAL_ID][1:]) + 3) for run in runs
    )
    starts = [run.info.start_time for run in runs]
    assert starts == sorted(starts, reverse=True) and len(set(starts)) < len(starts)
