"""The example plugin package (examples/plugins, docs/plugins.md) through real sweeps on a local Ray:
installed, it is found by its entry point on the driver and in every worker; a sweep of its method, model,
dataset and metric is stopped with Ctrl-C and resumed bit for bit, and `analyze` names the method by its
display name. Loaded from a .py path instead of the entry point, its method runs the same way."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from helpers import CLI, run_spec, start_sweep
from mlflow.tracking import MlflowClient

from mixup_tune.records import find_runs, parse_param, tags

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plugins"
EPOCHS = 60


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example package pip-installed into a folder of its own (not the project's environment), which
    PYTHONPATH then puts on the path of the driver and of Ray's workers."""
    root = tmp_path_factory.mktemp("example")
    source = shutil.copytree(EXAMPLE, root / "source")  # the build's files stay out of the checkout
    target = root / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target


SPEC = {
    "name": "example",
    "study": "regularisers",
    "trainable": {
        "dataset": "example_blobs",
        "model": "example_convnet",
        "hidden_sizes": [8],
        "epochs": EPOCHS,
        "batch_size": 64,
        "optimizer": {"name": "adam", "lr": 0.003, "weight_decay": 0},
        "mix": {"method": "resizemix_example", "scope": [0.2, 0.6]},
        "metrics": ["top2_error"],
    },
    "search": {"seed": [0, 1]},
    "tune": {"checkpoint_interval_s": 0},
    "resources": {"cpu": 1, "gpu": 0},
}


def _uninterrupted(params: dict[str, str], site: Path) -> list[dict[str, float]]:
    """The trial trained here, in one go, with the package imported as the worker imports it."""
    sys.path.insert(0, str(site))
    try:
        import mixup_example_plugins  # noqa: F401  (registers)

        from trainables import TrainConfig, train

        torch.set_num_threads(1)  # as the trial's one CPU
        return train(
            TrainConfig.from_dict({key: parse_param(value) for key, value in params.items()})
        ).history
    finally:
        sys.path.remove(str(site))


def test_the_installed_example_is_stopped_resumed_bit_for_bit_and_analysed_by_its_label(
    tmp_path: Path, installed: Path
) -> None:
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(SPEC))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {
        "PYTHONPATH": os.pathsep.join([str(installed), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    }
    args = ["--tracking-uri", uri, "--storage", str(tmp_path / "ray"), "--quiet"]
    run = start_sweep(tmp_path, "sweep.yaml", args, env=env)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # both trials under way (Ray's storage has each result at once)
        steps = [
            len(p.read_text().splitlines()) for p in (tmp_path / "ray" / "example").glob("*/result.json")
        ]
        if len(steps) == 2 and min(steps) >= 5:
            break
        if run.poll() is not None:
            pytest.fail(run.communicate()[0][-3000:])
        time.sleep(0.2)
    run.send_signal(signal.SIGINT)
    output, _ = run.communicate(timeout=120)
    assert run.returncode == 130, output[-3000:]
    client = MlflowClient(uri)
    stopped = find_runs(client, "example", "trial")
    assert {r.info.status for r in stopped} == {"KILLED"}
    assert all(len(client.get_metric_history(r.info.run_id, "train_loss")) < EPOCHS for r in stopped)

    full_env = {**os.environ, **env}
    resumed = subprocess.run(
        [CLI, "resume", "example", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=400,
        env=full_env,
    )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    for trial in find_runs(client, "example", "trial"):
        assert trial.info.status == "FINISHED"
        assert trial.data.tags[tags.MIXING] == "ResizeMix (example)"
        assert trial.data.tags[tags.PLUGINS] == "mixup_example_plugins (mixup-tune-example-plugins 0.1.0)"
        history = {
            name: [
                m.value
                for m in sorted(client.get_metric_history(trial.info.run_id, name), key=lambda m: m.step)
            ]
            for name in ("train_loss", "test_error", "metric/top2_error")
        }
        assert len(history["train_loss"]) == EPOCHS, "every epoch exactly once"
        uninterrupted = _uninterrupted(trial.data.params, installed)
        for name, values in history.items():
            assert values == [epoch[name] for epoch in uninterrupted], name

    analysed = subprocess.run(
        [CLI, "analyze", "example", "--out", "out", "--tracking-uri", uri],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=full_env,
    )
    assert analysed.returncode == 0, analysed.stdout[-3000:] + analysed.stderr[-3000:]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "ResizeMix (example)" in report, report[:3000]


def test_the_example_method_loads_from_its_py_file_without_the_entry_point(tmp_path: Path) -> None:
    spec = {
        "name": "by-path",
        "plugins": [str(EXAMPLE / "mixup_example_plugins" / "resizemix.py")],
        "trainable": {
            "dataset": "digits",
            "model": "cnn",
            "epochs": 2,
            "mix": {"method": "resizemix_example"},
        },
        "search": {"seed": [0, 1]},
        "resources": {"cpu": 1, "gpu": 0},
    }
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run_spec(tmp_path, spec, uri)
    client = MlflowClient(uri)
    trials = find_runs(client, "by-path", "trial")
    assert len(trials) == 2
    for trial in trials:
        assert trial.info.status == "FINISHED" and trial.data.tags[tags.MIXING] == "ResizeMix (example)"
        assert trial.data.tags[tags.PLUGINS].startswith("resizemix (sha256:")
    parent = find_runs(client, "by-path", "parent")[0]
    assert [a.path for a in client.list_artifacts(parent.info.run_id, "plugins/resizemix")] == [
        "plugins/resizemix/resizemix.py"
    ]
