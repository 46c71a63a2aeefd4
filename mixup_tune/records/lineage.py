"""A trial's dataset as an MLflow dataset input, for the MLflow UI's Dataset column and dataset view.

The trial reports its dataset with its first epoch (``trainables``'
``dataset_description``): its name, where it was read, a digest of what was
trained and tested on, the splits' shapes and the classes. Logged with
MLflow's own dataset entities: a dataset of metadata only (no data), on a
local source, the shapes and classes as its profile, the training context,
and the label-noise seed and the share of labels changed as input tags.
"""

from __future__ import annotations

import json
from typing import Any

from mlflow.data import sources
from mlflow.entities import Dataset, DatasetInput, InputTag

from ..mlflow_internals import DATASET_CONTEXT_TAG, source_type


def dataset_input(result: dict[str, Any]) -> DatasetInput:
    """The dataset input of a trial's run, from its first epoch's result."""
    # MLflow defines its artifact sources at import, by name; a local path is a LocalArtifactDatasetSource
    source = sources.LocalArtifactDatasetSource(str(result["dataset_source"]))  # type: ignore[attr-defined]
    profile = {"splits": result.get("dataset_shapes", ""), "classes": int(result.get("dataset_classes", 0))}
    dataset = Dataset(
        name=str(result["dataset"]),
        digest=str(result["dataset_digest"]),
        source_type=source_type(source),  # "local", as mlflow.log_input would record it
        source=source.to_json(),
        profile=json.dumps(profile),
    )
    tags = [InputTag(DATASET_CONTEXT_TAG, "train")]
    if "label_noise_seed" in result:
        tags += [
            InputTag("label_noise_seed", str(result["label_noise_seed"])),
            InputTag("labels_changed_pct", f"{float(result.get('labels_changed', 0.0)):.4f}"),
        ]
    return DatasetInput(dataset, tags=tags)
