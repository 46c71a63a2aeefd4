"""MLflow's stores and entities, where the public client has no way: the bulk metric history of a SQL store,
the names MLflow takes for a metric, and two details of its dataset inputs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT
from mlflow.utils.validation import MAX_ENTITY_KEY_LENGTH, path_not_unique, validate_param_and_metric_name

DATASET_CONTEXT_TAG = MLFLOW_DATASET_CONTEXT  # the input tag that says what a dataset was used for ("train")


def bulk_metric_history(client: MlflowClient) -> Callable[[list[str], str, int], Iterable[Metric]] | None:
    """``history(run_ids, metric, max_results)``: every logged point of ``metric`` in these runs in one
    query, each with its ``run_id``, as MLflow's UI reads it from a SQL store; None when the client's store
    has no such query (a tracking server)."""
    store = client._tracking_client.store
    if not hasattr(store, "get_metric_history_bulk"):
        return None

    def history(run_ids: list[str], metric: str, max_results: int) -> Iterable[Metric]:
        points: Iterable[Metric] = store.get_metric_history_bulk(run_ids, metric, max_results=max_results)
        return points

    return history


def metric_name_ok(name: str) -> bool:
    """Whether MLflow takes ``name`` as a metric's: its characters, its length, and no path that resolves to
    another name (a ``log_batch`` with one bad name is refused whole)."""
    return (
        bool(validate_param_and_metric_name(name))
        and len(name) <= MAX_ENTITY_KEY_LENGTH
        and not path_not_unique(name)
    )


def source_type(source: Any) -> str:
    """A dataset source's type ("local" for a local artifact source), as ``mlflow.log_input`` records it."""
    return str(source._get_source_type())
