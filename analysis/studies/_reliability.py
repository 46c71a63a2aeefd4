"""The regularisers study's reliability diagrams: each run's logged bins (``calibration/reliability.json``)
summed over seeds per noise rate and setting, one panel each, at most ``RELIABILITY_COLUMNS`` to a row."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient

from mixup_tune.records.names import RELIABILITY_ARTIFACT

from ..render import axes_grid, save_figure

RELIABILITY_COLUMNS = 8  # panels to a row of the reliability figure: a page's width
SPARSE_SHARE = 0.01  # a bin with less than this share of the examples is drawn pale


def summed_bins(client: MlflowClient, runs: pd.DataFrame) -> dict[tuple[float, str], np.ndarray]:
    """Each (noise rate, method)'s bins, summed over its seeds' runs: rows count, confidence sum, correct
    sum."""
    summed: dict[tuple[float, str], np.ndarray] = {}
    with tempfile.TemporaryDirectory() as directory:
        for run in runs.itertuples():
            try:
                path = client.download_artifacts(run.run_id, RELIABILITY_ARTIFACT, directory)
            except Exception:  # a run from before calibration was logged: no diagram for it
                continue
            bins = json.loads(Path(path).read_text())
            values = np.array([bins["count"], bins["confidence_sum"], bins["correct_sum"]], dtype=float)
            key = (float(run.label_noise), run.setting)
            summed[key] = summed.get(key, 0) + values
    return summed


def plot_reliability(
    summed: dict[tuple[float, str], np.ndarray], out: Path, order: Callable[[str], Any]
) -> list[Path]:
    """One panel per method, at most ``RELIABILITY_COLUMNS`` to a row (each noise rate starting a row of its
    own): accuracy against confidence per bin, and the gap."""
    noises = sorted({noise for noise, _ in summed})
    methods = sorted({setting for _, setting in summed}, key=order)
    columns = min(RELIABILITY_COLUMNS, len(methods))
    per_noise = -(-len(methods) // columns)
    rows = len(noises) * per_noise
    figure, axes = axes_grid(rows, columns, (2.0 * columns, 2.1 * rows + 0.4), sharey=True)
    for i, noise in enumerate(noises):
        for unused in range(len(methods), per_noise * columns):  # the rest of a noise rate's last row
            axes[i * per_noise + unused // columns][unused % columns].set_visible(False)
        for j, method in enumerate(methods):
            axis = axes[i * per_noise + j // columns][j % columns]
            values = summed.get((noise, method))
            axis.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
            if values is not None:
                count, confidence, correct = values
                edges = np.linspace(0, 1, len(count) + 1)
                filled = count > 0
                accuracy = np.divide(correct, count, out=np.zeros_like(correct), where=filled)
                share = count / max(count.sum(), 1)
                sparse = share < SPARSE_SHARE  # a near-empty bin's accuracy is a guess: drawn pale
                for pale in (False, True):
                    axis.bar(
                        edges[:-1][sparse == pale],
                        accuracy[sparse == pale],
                        width=np.diff(edges)[sparse == pale],
                        align="edge",
                        color="C0",
                        alpha=0.3 if pale else 1.0,
                        edgecolor="white",
                        linewidth=0.4,
                    )
                # how many examples each bin holds, as a share of all: the weights of the ECE
                axis.step(edges, np.append(share, share[-1]), where="post", color="0.25", linewidth=0.8)
                mean_confidence = np.divide(confidence, count, out=np.zeros_like(confidence), where=filled)
                centres = (edges[:-1] + edges[1:])[filled] / 2
                axis.vlines(centres, accuracy[filled], mean_confidence[filled], color="C3", linewidth=1.5)
                axis.scatter(centres, mean_confidence[filled], marker="_", color="C3", s=30, zorder=3)
                ece = 100 * np.abs(correct - confidence).sum() / count.sum()
                axis.text(0.04, 0.9, f"ECE {ece:.1f}%", fontsize=7, transform=axis.transAxes)
            axis.set_title(f"{method}\nnoise {noise:.0%}", fontsize=7)
            axis.tick_params(labelsize=6)
    for axis in axes.flat:
        axis.set_xlabel("confidence", fontsize=7)
    for row in axes:
        row[0].set_ylabel("accuracy", fontsize=7)
    figure.suptitle(
        "Reliability on the unmixed test set, bins summed over seeds: each bin's accuracy (blue; pale where "
        "the bin holds under 1% of the examples), the gap to its mean confidence\n(red: a tick above the bar "
        "is overconfidence, below it underconfidence), and each bin's share of the examples (grey line)",
        fontsize=8,
    )
    return save_figure(figure, out, "reliability")
