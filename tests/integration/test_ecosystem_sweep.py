"""Models and data from outside the package through one real sweep on a local Ray (issue 28): a CSV and a
Parquet table, torchvision's and timm's ResNet-18 on images, and a plugin's own metric, each a trial."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import run_spec

from analysis import load_runs
from mixup_tune.records import tags

pytestmark = pytest.mark.integration

METRIC_PLUGIN = """\
from trainables import register_metric


@register_metric("top2_error")
def top2_error(logits, labels):
    return 100.0 * float((logits.topk(2, dim=1).indices != labels[:, None]).all(1).float().mean())
"""


def test_tables_torchvision_and_timm_models_and_a_plugin_metric_run_as_one_sweep(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 120
    kind = rng.choice(["ant", "bee", "cat"], n)
    table = pd.DataFrame(
        {
            "size": rng.normal(size=n) + (kind == "bee") * 3,
            "colour": rng.choice(["red", "blue"], n),
            "kind": kind,
        }
    )
    table.to_csv(tmp_path / "insects.csv", index=False)
    table.to_parquet(tmp_path / "insects.parquet")
    np.savez(
        tmp_path / "images.npz",
        x_train=rng.integers(0, 256, (48, 3, 16, 16), dtype=np.uint8),
        y_train=rng.integers(0, 3, 48),
        x_test=rng.integers(0, 256, (24, 3, 16, 16), dtype=np.uint8),
        y_test=rng.integers(0, 3, 24),
    )
    (tmp_path / "my_metrics.py").write_text(METRIC_PLUGIN)
    tabular = {"label_column": "kind", "model": "mlp"}
    variants = [
        {"dataset": "csv", "data_path": "insects.csv", **tabular},
        {"dataset": "parquet", "data_path": "insects.parquet", **tabular},
        {"dataset": "npz", "data_path": "images.npz", "model": "torchvision/resnet18"},
    ]
    timm = importlib.util.find_spec("timm") is not None
    if timm:  # the timm extra: make install installs it, so CI runs this trial
        variants.append(
            {
                "dataset": "npz",
                "data_path": "images.npz",
                "model": "timm/resnet18",
                "model_options": {"drop_rate": 0.1},
            }
        )
    spec = {
        "name": "ecosystem",
        "plugins": ["my_metrics.py"],
        "trainable": {"epochs": 2, "batch_size": 16, "alpha": 1.0, "metrics": ["top2_error"]},
        "variants": variants,
        "resources": {"cpu": 1, "gpu": 0},
    }
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_spec(tmp_path, spec, uri)
    runs = load_runs("ecosystem", uri).set_index("dataset", append=True)
    assert len(runs) == len(variants) and (runs["status"] == "FINISHED").all()
    assert (runs["metric/top2_error"] <= runs["last_test_error"]).all()
    by_model = load_runs("ecosystem", uri).set_index("model")
    assert set(by_model.index) == {"mlp", "torchvision/resnet18", *(["timm/resnet18"] if timm else [])}
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    for run_id, dataset in zip(load_runs("ecosystem", uri)["run_id"], load_runs("ecosystem", uri)["dataset"]):
        run = client.get_run(run_id)
        if dataset in ("csv", "parquet"):
            assert run.data.tags[tags.LABELS] == "ant, bee, cat"
        assert "my_metrics (sha256:" in run.data.tags[tags.PLUGINS]
        assert len(client.get_metric_history(run_id, "metric/top2_error")) == 2  # every epoch
    # a model that cannot take the data is refused before anything runs, in one line, exit 2
    spec["variants"] = [
        {
            "dataset": "csv",
            "data_path": "insects.csv",
            "label_column": "kind",
            "model": "torchvision/resnet18",
        }
    ]
    spec["name"] = "refused"
    refused = run_spec(tmp_path, spec, uri, expect=2, args=())
    assert refused.stderr.strip().splitlines() == [
        "mixup-tune: error: model: torchvision/resnet18: needs images (channels, height, width); this "
        "dataset's examples are (3,) (dataset 'csv')"
    ], refused.stderr
