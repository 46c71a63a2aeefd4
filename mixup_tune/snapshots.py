"""A GAN trial's snapshots (generated points at given iterations) logged as MLflow artifacts.

Each snapshot is ``snapshots/iteration_NNNNNN.json`` ({"iteration", "target",
"points"}), for the analysis, and, when the record was given a way to draw
it, a PNG of the same name, for the MLflow UI: the target's points in blue and
the generated ones in orange, as in the paper's Figure 5. The drawing is the
analysis's (``analysis.render.draw_snapshot``), above the driver: the CLI
hands it in (``sweep_end.SweepDrawing``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from mlflow.tracking import MlflowClient

from .records import snapshot_name

# (axis, points, target, title): one snapshot's panel on a matplotlib axis
SnapshotDrawer = Callable[[Any, np.ndarray, str, str], None]


def snapshot_writer(draw: SnapshotDrawer | None) -> Callable[[MlflowClient, str, dict[str, Any], str], None]:
    """The record's snapshot writer: ``log_snapshots`` with ``draw``. It is pickled with the record into Ray's
    saved state, so both are named module functions, and a sweep saved before ``draw`` existed still loads."""
    return functools.partial(log_snapshots, draw=draw)


def log_snapshots(
    client: MlflowClient,
    run_id: str,
    snapshots: dict[str, Any],
    target: str,
    draw: SnapshotDrawer | None = None,
) -> None:
    """Log each snapshot of one result (iteration -> points) as JSON, and as a PNG when there is ``draw``."""
    if draw is not None:
        import matplotlib  # here: only GAN sweeps pay for the import

        matplotlib.use("Agg")  # the driver may have no display
        import matplotlib.pyplot as plt

    for key, points in sorted(snapshots.items(), key=lambda item: int(item[0])):
        iteration = int(key)
        client.log_dict(
            run_id,
            {"iteration": iteration, "target": target, "points": points},
            snapshot_name(iteration, "json"),
        )
        if draw is not None:
            figure, axis = plt.subplots(figsize=(3, 3), dpi=100, constrained_layout=True)
            draw(axis, np.asarray(points, dtype=float), target, f"iteration {iteration:,}")
            client.log_figure(run_id, figure, snapshot_name(iteration, "png"))
            plt.close(figure)
