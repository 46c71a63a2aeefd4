"""Plugins through real sweeps on a local Ray (issue 28): a failure's reason reaches every view, whatever
the exception class; a plugin that imports torch changes no number."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import CLI, run_spec
from mlflow.tracking import MlflowClient

from analysis import load_runs
from mixup_tune.records import find_runs, tags
from mixup_tune.status import sweep_status

pytestmark = pytest.mark.integration
PLUGINS = Path(__file__).resolve().parents[1] / "fixtures" / "plugins"


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
    done = run_spec(tmp_path, spec, uri, expect=1)
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
    run_spec(tmp_path, {"name": "plain", **base}, uri)
    run_spec(tmp_path, {"name": "greedy", "plugins": ["greedy.py"], **base}, uri)
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


EDITABLE = """\
import torch
from trainables import MixedBatch, MixMethod, register_mix_method


@register_mix_method
class Halves(MixMethod):
    name, display_name, uses, off = "test_halves", "Halves", ("alpha",), {"alpha": 0.0}

    def mix(self, x, y, draws):
        perm = torch.randperm(len(x), generator=draws.torch).to(x.device)
        return MixedBatch.pair(torch.lerp(x[perm], x, WEIGHT), y, y[perm], WEIGHT)


WEIGHT = 0.5
"""


def test_an_edited_plugins_trials_run_again_and_its_old_results_keep_their_old_code(tmp_path: Path) -> None:
    """The helper that wrote the held-out plugin found the first edit of a plugin reran nothing: the sweep's
    end copied the old trials' results from Ray's storage under the edited plugin's digest."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    (tmp_path / "halves.py").write_text(EDITABLE)
    spec = {
        "name": "edited",
        "plugins": ["halves.py"],
        "trainable": {
            "dataset": "digits",
            "model": "mlp",
            "hidden_sizes": [16],
            "epochs": 2,
            "alpha": 1,
            "mix": {"method": "test_halves"},
        },
        "search": {"seed": [0, 1]},
        "resources": {"cpu": 1, "gpu": 0},
    }
    summaries = [" ".join(run_spec(tmp_path, spec, uri).stdout.split())]
    (tmp_path / "halves.py").write_text(EDITABLE.replace("WEIGHT = 0.5", "WEIGHT = 0.75"))
    summaries += [
        " ".join(run_spec(tmp_path, spec, uri).stdout.split()) for _ in range(2)
    ]  # edited, then again
    ran_and_skipped = [("trials run this time │ 2" in s, "skipped │ 0" in s) for s in summaries[:2]]
    assert ran_and_skipped == [(True, True)] * 2, summaries
    assert "trials run this time │ 0" in summaries[2] and "skipped │ 2" in summaries[2]
    client = MlflowClient(uri)
    trials = find_runs(client, "edited", "trial")
    by_digest: dict[str, list[float]] = {}
    for trial in trials:
        losses = [m.value for m in client.get_metric_history(trial.info.run_id, "train_loss")]
        by_digest.setdefault(trial.data.tags[tags.PLUGINS], []).append(losses[-1])
    assert len(trials) == 4 and len(by_digest) == 2 and all(len(v) == 2 for v in by_digest.values())
    old, new = by_digest.values()
    assert sorted(old) != sorted(new), "the edited weight trained differently, and each result kept its code"


def test_a_method_model_and_dataset_written_from_the_docs_alone_pass_check_and_run_as_a_sweep(
    tmp_path: Path,
) -> None:
    """tests/fixtures/plugins/held_out.py was written by a helper given docs/plugins.md and nothing else of
    the project: a mixing method, a model and a dataset no test had seen, and the sweep file beside it."""
    checked = subprocess.run(
        [CLI, "check", "held_out_vsplit", "--plugins", str(PLUGINS / "held_out.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0 and "8 of 8 checks passed" in checked.stdout, (
        checked.stdout + checked.stderr
    )
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = subprocess.run(  # the plugin's path is found beside the sweep file
        [
            CLI,
            "run",
            str(PLUGINS / "held_out.yaml"),
            "--quiet",
            "--tracking-uri",
            uri,
            "--storage",
            str(tmp_path / "ray"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    client = MlflowClient(uri)
    trials = find_runs(client, "held-out", "trial")
    assert len(trials) == 2
    for trial in trials:
        assert trial.info.status == "FINISHED"
        assert trial.data.tags[tags.MIXING] == "Vertical-split mix (held out)"
        assert (
            trial.data.params["model"] == "held_out_net"
            and trial.data.params["dataset"] == "held_out_stripes"
        )
