"""Everything of mixup-tune that leans on MLflow's private API or on undocumented behaviour of its stores.

An MLflow upgrade is checked here, and by the pin tests beside it (``tests/mlflow_internals/``), which hold
each function to what MLflow's public API gives or does. Checked against **MLflow 3.17.2**. No other module
names a private MLflow symbol (``tests/test_layout.py`` greps for them).

- ``bulk_read``: a sweep's runs from MLflow's SQL tables in five plain queries, not ``search_runs``' ORM;
- ``new_store``: a new sqlite store copied from one MLflow migrated once (its schema, its default experiment);
- ``stores``: the store behind a client (the SQL store's bulk metric history), the names MLflow takes for a
  metric, the dataset-input context tag and a dataset source's type.

Needs MLflow only, never Ray: ``mixup_tune.records`` and ``analysis`` use it.
"""

from .bulk_read import read_runs
from .new_store import CACHE_VARIABLE, create_sqlite_store
from .stores import DATASET_CONTEXT_TAG, bulk_metric_history, metric_name_ok, source_type

__all__ = [
    "CACHE_VARIABLE",
    "DATASET_CONTEXT_TAG",
    "bulk_metric_history",
    "create_sqlite_store",
    "metric_name_ok",
    "read_runs",
    "source_type",
]
