"""Measures the seed spread that tests/trainables/test_differential.py takes its tolerances from (SPREAD).

    python tests/trainables/measure_differential_spread.py [--seeds 12] [--data ../shared/datasets]

For each dataset and setting, both trainers (the project's ``train`` and the
textbook loop) run over the seeds on the uint8 (N, H, W) layout; it prints
each metric's std over seeds for each trainer, and the larger of the two,
which is what SPREAD holds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_mixup import train_reference
from test_differential import RECIPES, SPREAD, digits, fashion_subset, recipe_config, write_layout

from trainables import TrainConfig, train


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[3] / "shared" / "datasets"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "data.npz"
        for dataset in RECIPES:
            arrays = write_layout(
                digits() if dataset == "digits" else fashion_subset(args.data), "uint8_hw", path
            )
            recipe = RECIPES[dataset]
            for (name, alpha, noise), spread in SPREAD.items():
                if name != dataset:
                    continue
                config = recipe_config(recipe, path, alpha, noise)
                ours = [train(TrainConfig(**config, seed=seed)).final for seed in range(args.seeds)]
                theirs = [
                    train_reference(arrays, 10, alpha=alpha, label_noise=noise, seed=seed, **recipe)
                    for seed in range(args.seeds)
                ]
                row = {"dataset": dataset, "alpha": alpha, "noise": noise}
                for metric in spread:
                    a, b = [r[metric] for r in ours], [r[metric] for r in theirs]
                    row[metric] = {
                        "mean_ours": round(statistics.fmean(a), 2),
                        "mean_textbook": round(statistics.fmean(b), 2),
                        "std_ours": round(statistics.stdev(a), 2),
                        "std_textbook": round(statistics.stdev(b), 2),
                        "spread": round(max(statistics.stdev(a), statistics.stdev(b)), 2),
                    }
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
