"""The driver's Ray, where Ray's public API has no way: a local Ray without prestarted workers, what its
autoscaler can add, its monitor stopped first at shutdown, and Tune's resume hint left out.

Private: ``ray.init``'s ``_system_config``, ``ray._private.state``, the internal key-value store, the
driver's ``_global_node``, and the name of the logger Tune prints its hint on.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import ray

# A local Ray would start a Python worker per CPU as the driver connects; Tune starts its trial actors in
# workers of their own, so those would only compete for the CPUs while Ray starts (0.7 s of a tiny sweep's
# 12 s on 2 cores, BENCHMARKS.md). Keyword arguments to ``ray.init`` of a new local Ray.
NO_WORKER_PRESTART: dict[str, Any] = {"_system_config": {"prestart_worker_first_driver": False}}


def autoscaler_view() -> tuple[list[tuple[dict[str, float], int]], dict[str, Any] | None]:
    """What the cluster says it can add: its node groups (resources, most nodes; -1 for no limit), as
    autoscalers that know them report them, and the classic autoscaler's status report (None without)."""
    from ray._private.state import state
    from ray.experimental.internal_kv import _internal_kv_get

    config = state.get_cluster_config()
    status = _internal_kv_get("__autoscaling_status")  # ray_constants.DEBUG_AUTOSCALING_STATUS, the monitor's
    groups = [(dict(g.resources), g.max_count) for g in config.node_group_configs] if config else []
    return groups, json.loads(status).get("autoscaler_report") if status else None


def kill_local_monitor() -> None:
    """Kill a local Ray's autoscaler monitor, through Ray's own handle on the processes it started.

    ``ray.shutdown`` stops the GCS before the monitor, whose SIGTERM handler then tries to write its exit
    reason to the GCS that is gone, until Ray gives up on it after 1 s. Connected to a cluster, the driver's
    node holds none of Ray's processes, and nothing is done.
    """
    node = getattr(ray._private.worker, "_global_node", None)
    if node is not None and hasattr(node, "kill_monitor"):
        node.kill_monitor(check_alive=False)


def drop_tunes_resume_hint() -> None:
    """Leave out Tune's "Resume experiment with: Tuner.restore(...)" warning after Ctrl-C: the CLI prints
    its own ``mixup-tune resume NAME``, and a user of the CLI has no trainable to hand ``Tuner.restore``.
    Tune logs it on its ``ray.tune.tune`` logger (test_resume_integration finds it gone)."""
    logging.getLogger("ray.tune.tune").addFilter(_not_tunes_resume_hint)


def _not_tunes_resume_hint(record: logging.LogRecord) -> bool:
    return "Tuner.restore(" not in record.getMessage()
