"""Plugins through real sweeps on a local Ray (issue 28): a failure's reason reaches every view, whatever
the exception class; a plugin that imports torch changes no number."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import CLI
from mlflow.tracking import MlflowClient

from analysis import load_runs
from mixup_tune.records import find_runs, tags
from mixup_tune.status import sweep_status

pytestmark = pytest.mark.integration
PLUGINS = Path(__file__).resolve().parents[1] / "fixtures" / "plugins"


def run(directory: Path, spec: dict, uri: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    (directory / f"{spec['name']}.yaml").write_text(yaml.safe_dump(spec))
    done = subprocess.run(
        [CLI, "run", f"{spec['name']}.yaml", "--quiet", "--tracking-uri", uri],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == expect, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_each_exception_class_of_the_project_reaches_mlflow_runs_and_status_from_a_ray_trial(
    tmp_path: Path,
) -> None:
    import sys

    sys.path.append(str(PLUGINS))
    from raising_methods import RAISED, make

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    spec = {
        "name": "raising",
        "plugins": [str(PLUGINS / "raising_methods.py")],
        "trainable": {
            "dataset": "digits",
            "model": "mlp",
            "hidden_sizes": [8],
            "epochs": 1,
            "mix": {"method": "test_raising"},
        },
        "search": {"mix.error": sorted(RAISED)},
        "tune": {"max_failures": 0},
        "resources": {"cpu": 1, "gpu": 0},
    }
    done = run(tmp_path, spec, uri, expect=1)
    expected = {path: f"{path.rpartition('.')[2]}: {make(path)}" for path in RAISED}
    summary = " ".join(done.stdout.split())  # the closing summary: the first five trial errors
    assert sum(f"trial error: {line}" in summary for line in expected.values()) == 5, summary[-3000:]
    client = MlflowClient(uri)
    recorded = {
        run.data.params["mix.error"]: run.data.tags.get(tags.ERROR_LINE)
        for run in find_runs(client, "raising", "trial")
    }
    assert recorded == expected
    runs = load_runs("raising", uri)
    assert dict(zip(runs["mix.error"], runs["error"])) == expected
    progress, _, _ = sweep_status(client, "raising")
    assert sorted(t.error for t in progress.trials) == sorted(expected.values())


def test_a_plugin_that_imports_torch_and_sets_its_threads_changes_no_number(tmp_path: Path) -> None:
    """The trial sets torch's thread count from its CPU share after the plugins are imported: a plugin that
    imports torch and asks for more threads changes nothing, to the bit, and the count is recorded."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (tmp_path / "greedy.py").write_text(
        "import torch\n\ntorch.set_num_threads(3)  # as a careless plugin might\n"
    )
    base = {
        # a CNN: its convolutions' sums are split across threads, so that more threads round differently
        "trainable": {"dataset": "digits", "model": "cnn", "epochs": 2, "alpha": 1},
        "search": {"seed": [0, 1]},
        "resources": {"cpu": 1, "gpu": 0},
    }
    run(tmp_path, {"name": "plain", **base}, uri)
    run(tmp_path, {"name": "greedy", "plugins": ["greedy.py"], **base}, uri)
    client = MlflowClient(uri)
    histories, threads = {}, set()
    for sweep in ("plain", "greedy"):
        for trial in find_runs(client, sweep, "trial"):
            assert (tags.PLUGINS in trial.data.tags) == (sweep == "greedy")
            threads.add(trial.data.tags[tags.THREADS])
            losses = [m.value for m in client.get_metric_history(trial.info.run_id, "train_loss")]
            histories[sweep, trial.data.tags[tags.TRIAL_ID]] = losses
    assert len(histories) == 4
    for (sweep, key), losses in histories.items():
        if sweep == "plain":
            assert histories["greedy", key] == losses, "the same trial key, the same numbers"
    assert threads == {"1"}
