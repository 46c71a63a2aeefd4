"""A sweep's runs read from MLflow's SQL store in five plain queries, for stores of 10,000 runs and more.

MLflow's ``search_runs`` loads every run's params, tags and latest metrics
as SQLAlchemy ORM objects, about 67 of them per trial run here: at 10,000
runs, 33 s of `analyze`'s 36 s went there, most of it in SQLAlchemy's
instance bookkeeping (BENCHMARKS.md). The same rows selected as plain
tuples, from MLflow's own table models, took 5 s under the same profiler
(`analyze` 28.5 -> 10.5 s unprofiled). The runs come back as
the same ``mlflow.entities.Run`` objects, in ``search_runs``' order (start
time descending, then run id); only their dataset inputs and model outputs,
which nothing here reads, are left empty.

A tracking server has no such path: its client gets None and searches.
``tests/mlflow_internals/test_bulk_read.py`` holds this equal to ``search_runs`` on
sqlite and PostgreSQL, NaN metrics, deleted runs and other sweeps included.
"""

from __future__ import annotations

from typing import Any

from mlflow.entities import LifecycleStage, Metric, Param, Run, RunData, RunInfo, RunTag
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import _get_run_name_from_tags


def read_runs(
    client: MlflowClient, experiment_ids: list[str], tags: dict[str, str], status: str | None = None
) -> list[Run] | None:
    """The active runs of these experiments whose tags equal ``tags`` (and of ``status``), as
    ``search_runs`` returns them; None when the store is not MLflow's SQL store."""
    store = client._tracking_client.store
    if not hasattr(store, "ManagedSessionMaker"):  # a tracking server (RestStore)
        return None
    # MLflow's table models, imported with its SQL store (already loaded when the store is one)
    from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlParam, SqlRun, SqlTag
    from sqlalchemy import exists, select

    # Plain Core statements over MLflow's own tables, run on the session's connection: rows come back as
    # tuples, without the ORM's per-row bookkeeping that an ORM-enabled select still pays.
    run, tag, param, latest = (model.__table__.c for model in (SqlRun, SqlTag, SqlParam, SqlLatestMetric))
    with store.ManagedSessionMaker() as session:
        ids = [int(e) for e in experiment_ids]
        # the hook MLflow's search calls too (a subclass may narrow the experiments, to a workspace say)
        ids = list(store._filter_experiment_ids(session, ids))
        if not ids:
            return []
        matching = select(run.run_uuid).where(
            run.experiment_id.in_(ids), run.lifecycle_stage == LifecycleStage.ACTIVE
        )
        for key, value in tags.items():
            matching = matching.where(
                exists().where(tag.run_uuid == run.run_uuid, tag.key == key, tag.value == value)
            )
        if status is not None:
            matching = matching.where(run.status == status)
        connection = session.connection()
        # Each query below selects by the same condition: a run that appears between them (a trial
        # starting while `runs` reads) is missing from the first, so only the first's runs are kept.
        runs = connection.execute(
            select(
                run.run_uuid,
                run.name,
                run.experiment_id,
                run.user_id,
                run.status,
                run.start_time,
                run.end_time,
                run.lifecycle_stage,
                run.artifact_uri,
            )
            .where(run.run_uuid.in_(matching.scalar_subquery()))
            .order_by(run.start_time.desc(), run.run_uuid)
        ).all()
        found: dict[str, tuple[list[Param], list[RunTag], list[Metric]]] = {r[0]: ([], [], []) for r in runs}

        def rows_of(table: Any, *columns: Any) -> Any:
            return connection.execute(
                select(table.run_uuid, *columns).where(table.run_uuid.in_(matching.scalar_subquery()))
            )

        for run_id, key, value in rows_of(param, param.key, param.value):
            if run_id in found:
                found[run_id][0].append(Param(key, value))
        for run_id, key, value in rows_of(tag, tag.key, tag.value):
            if run_id in found:
                found[run_id][1].append(RunTag(key, value))
        metric_rows = rows_of(latest, latest.key, latest.value, latest.timestamp, latest.step, latest.is_nan)
        for run_id, key, value, timestamp, step, is_nan in metric_rows:
            if run_id in found:  # as SqlLatestMetric.to_mlflow_entity: NaN is stored as 0 with a flag
                found[run_id][2].append(Metric(key, float("nan") if is_nan else value, timestamp, step))
    return [_run(row, *found[row[0]]) for row in runs]


def _run(row: Any, params: list[Param], run_tags: list[RunTag], metrics: list[Metric]) -> Run:
    run_id, name, experiment_id, user_id, status, start_time, end_time, stage, artifact_uri = row
    if not name:  # as SqlRun.to_mlflow_entity: a run named only by its tag
        name = _get_run_name_from_tags(run_tags) or name
    info = RunInfo(
        run_id=run_id,
        run_name=name,
        experiment_id=str(experiment_id),
        user_id=user_id,
        status=status,
        start_time=start_time,
        end_time=end_time,
        lifecycle_stage=stage,
        artifact_uri=artifact_uri,
    )
    return Run(run_info=info, run_data=RunData(metrics=metrics, params=params, tags=run_tags))
