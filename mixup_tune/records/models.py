"""A trial's logged model (final weights and config), rebuilt for evaluation after the sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from .names import MODEL_DIR, MODEL_FILE


def load_trained(client: MlflowClient, run_id: str) -> Any:
    """A ``trainables.Trial`` rebuilt from a run's logged model: its data, normalisation, config and final
    weights."""
    import tempfile

    import torch

    from trainables import TrainConfig, Trial

    with tempfile.TemporaryDirectory() as directory:
        path = client.download_artifacts(run_id, f"{MODEL_DIR}/{MODEL_FILE}", directory)
        saved = torch.load(Path(path), map_location="cpu", weights_only=False)
    trial = Trial(TrainConfig(**saved["config"]))
    trial.model.load_state_dict(saved["model"])
    return trial
