"""A GAN trial's snapshots (generated points at given iterations) as MLflow artifacts, and how they are drawn.

Each snapshot is ``snapshots/iteration_NNNNNN.json`` ({"iteration", "target",
"points"}), for the analysis, and a PNG of the same name, for the MLflow UI:
the target's points in blue and the generated ones in orange, as in the
paper's Figure 5.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from mlflow.tracking import MlflowClient

from .records import SNAPSHOT_DIR

TARGET_POINTS = 1000  # blue points drawn per panel


def snapshot_name(iteration: int, suffix: str) -> str:
    return f"{SNAPSHOT_DIR}/iteration_{iteration:06d}.{suffix}"


@cache
def target_points(target: str) -> np.ndarray:
    """A fixed draw of the target (the same in every figure)."""
    import torch

    from trainables.gan_targets import TARGETS

    return TARGETS[target].sample(TARGET_POINTS, torch.Generator().manual_seed(0)).numpy()


def draw_snapshot(axis: Any, points: np.ndarray, target: str, title: str = "") -> None:
    """One panel: the target (blue) under the generated points (orange), on the target's square."""
    reference = target_points(target)
    axis.scatter(reference[:, 0], reference[:, 1], s=2, c="C0", alpha=0.5, linewidths=0)
    axis.scatter(points[:, 0], points[:, 1], s=2, c="C1", alpha=0.6, linewidths=0)
    limit = float(np.abs(reference).max()) * 1.35
    axis.set_xlim(-limit, limit)
    axis.set_ylim(-limit, limit)
    axis.set_aspect("equal")
    axis.set_xticks([])
    axis.set_yticks([])
    if title:
        axis.set_title(title, fontsize=9)


def log_snapshots(client: MlflowClient, run_id: str, snapshots: dict[str, Any], target: str) -> None:
    """Log each snapshot of one result (iteration -> points) as JSON and as a PNG."""
    import matplotlib  # here: only GAN sweeps pay for the import

    matplotlib.use("Agg")  # the driver may have no display
    import matplotlib.pyplot as plt

    for key, points in sorted(snapshots.items(), key=lambda item: int(item[0])):
        iteration = int(key)
        client.log_dict(run_id, {"iteration": iteration, "target": target, "points": points}, snapshot_name(iteration, "json"))
        figure, axis = plt.subplots(figsize=(3, 3), dpi=100, constrained_layout=True)
        draw_snapshot(axis, np.asarray(points, dtype=float), target, f"iteration {iteration:,}")
        client.log_figure(run_id, figure, snapshot_name(iteration, "png"))
        plt.close(figure)
