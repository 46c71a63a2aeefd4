"""A GAN trial's snapshots (generated points at given iterations) logged as MLflow artifacts.

Each snapshot is ``snapshots/iteration_NNNNNN.json`` ({"iteration", "target",
"points"}), for the analysis, and a PNG of the same name, for the MLflow UI:
the target's points in blue and the generated ones in orange, as in the
paper's Figure 5.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from mlflow.tracking import MlflowClient

from .records import snapshot_name


def log_snapshots(client: MlflowClient, run_id: str, snapshots: dict[str, Any], target: str) -> None:
    """Log each snapshot of one result (iteration -> points) as JSON and as a PNG."""
    import matplotlib  # here: only GAN sweeps pay for the import

    matplotlib.use("Agg")  # the driver may have no display
    import matplotlib.pyplot as plt

    from analysis.render import draw_snapshot  # the same panel as the analysis's Figure 5

    for key, points in sorted(snapshots.items(), key=lambda item: int(item[0])):
        iteration = int(key)
        client.log_dict(
            run_id,
            {"iteration": iteration, "target": target, "points": points},
            snapshot_name(iteration, "json"),
        )
        figure, axis = plt.subplots(figsize=(3, 3), dpi=100, constrained_layout=True)
        draw_snapshot(axis, np.asarray(points, dtype=float), target, f"iteration {iteration:,}")
        client.log_figure(run_id, figure, snapshot_name(iteration, "png"))
        plt.close(figure)
