"""End to end through the ``mixup-tune`` command: a real local Ray, real MLflow stores, real training.

The record contract runs in every storage mode (the ``tracking_uri`` fixture; the servers' in the slow
tier). Sweeps run in this process, on one local Ray per module (``helpers.cli_in_process``), as the
command's ``main`` runs them; what a user's shell sees (one line on stderr, exit 2) is also checked in real
processes, and ``analyze``'s figures are drawn in their own.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import CLI, cli_in_process
from mlflow.tracking import MlflowClient

from mixup_tune.records import parse_param
from trainables import TrainConfig, train

pytestmark = pytest.mark.integration

TINY_SPEC = """\
name: {name}
experiment: mixup-integration
study: bias_variance
trainable: {{dataset: digits, model: mlp, hidden_sizes: [32], epochs: 3, batch_size: 128,
             label_smoothing: 0.1, cutout: 4}}
search:
  alpha: [0, 1]
  label_noise: [0, 0.4]
resources: {{cpu: 1, gpu: 0}}
tune: {{max_concurrent_trials: 1}}
"""


def mixup_tune(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@dataclass
class Sweep:
    name: str
    spec: Path
    workdir: Path
    tracking_uri: str
    first: subprocess.CompletedProcess[str]

    def run(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return cli_in_process(
            "run",
            str(self.spec),
            "--tracking-uri",
            self.tracking_uri,
            "--storage",
            str(self.workdir / "ray"),
            "--quiet",
            *extra,
            cwd=self.workdir,
        )

    @property
    def client(self) -> MlflowClient:
        return MlflowClient(self.tracking_uri)

    def runs(self, role: str) -> list:
        experiment = self.client.get_experiment_by_name("mixup-integration")
        query = f"tags.`mixup_tune.sweep` = '{self.name}' and tags.`mixup_tune.role` = '{role}'"
        return self.client.search_runs([experiment.experiment_id], query)


# What does not depend on the store (Ray's scheduling, the CLI, training, the figures) runs on sqlite only;
# the record contract runs in every storage mode. (`runs` and `analyze` read a SQL store in bulk and a
# server by search: tests/mlflow_internals/test_bulk_read.py holds the two equal, on sqlite and PostgreSQL.)
ONCE = pytest.mark.parametrize("tracking_uri", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def sweep(tracking_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    workdir = tmp_path_factory.mktemp("sweep")
    name = "tiny-server" if tracking_uri.startswith("http") else "tiny-sqlite"
    spec = workdir / "tiny.yaml"
    spec.write_text(TINY_SPEC.format(name=name))
    sweep = Sweep(name, spec, workdir, tracking_uri, subprocess.CompletedProcess([], 0))
    sweep.first = sweep.run()
    assert sweep.first.returncode == 0, sweep.first.stdout[-3000:] + sweep.first.stderr[-3000:]
    return sweep


def test_one_parent_and_one_nested_child_per_trial(sweep: Sweep) -> None:
    parents, children = sweep.runs("parent"), sweep.runs("trial")
    assert len(parents) == 1 and len(children) == 4
    assert parents[0].info.status == "FINISHED"
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
        assert child.info.status == "FINISHED"
    assert {(c.data.params["alpha"], c.data.params["label_noise"]) for c in children} == {
        ("0.0", "0.0"),
        ("0.0", "0.4"),
        ("1.0", "0.0"),
        ("1.0", "0.4"),
    }


@ONCE
def test_max_concurrent_trials_runs_the_trials_one_at_a_time(sweep: Sweep) -> None:
    # Two CPUs and one per trial: without the limit, two trials run side by side.
    spans = sorted((c.info.start_time, c.info.end_time) for c in sweep.runs("trial"))
    assert all(end <= next_start for (_, end), (next_start, _) in zip(spans, spans[1:])), spans


def test_params_metrics_and_tags_of_each_trial(sweep: Sweep, tmp_path: Path) -> None:
    for child in sweep.runs("trial"):
        params, metrics, tags = child.data.params, child.data.metrics, child.data.tags
        assert {
            "alpha",
            "label_noise",
            "seed",
            "dropout",
            "dataset",
            "model",
            "optimizer.lr",
            "lambda_per",
        } <= set(params)
        assert params["dataset"] == "digits" and params["model"] == "mlp"
        history = sweep.client.get_metric_history(child.info.run_id, "test_error")
        assert sorted(int(m.step) for m in history) == [1, 2, 3]
        values = [m.value for m in sorted(history, key=lambda m: m.step)]
        assert metrics["best_test_error"] == pytest.approx(min(values))
        assert metrics["last_test_error"] == pytest.approx(values[-1])
        assert 0 <= metrics["train_error_real"] <= 100 and "train_loss" in metrics and "lr" in metrics
        assert ("train_error_corrupted" in metrics) == (params["label_noise"] != "0.0")
        assert tags["mixup_tune.sweep"] == sweep.name and tags["mixup_tune.study"] == "bias_variance"
        assert len(tags["mixup_tune.trial_id"]) == 16 and tags["mixup_tune.code_version"]
        assert tags["mlflow.source.git.commit"] == tags["mixup_tune.code_version"].removesuffix("-dirty")
        assert tags["mixup_tune.input_shape"] == "1x8x8" and tags["mixup_tune.normalisation"].startswith(
            "per-channel mean/std of the training split (1 channel,"
        )
        assert tags.get("mixup_tune.label_noise_protocol") == (
            "fraction" if params["label_noise"] != "0.0" else None
        )
        assert params["label_smoothing"] == "0.1" and params["cutout"] == "4"
        for name in ("test_ece", "test_nll", "test_confidence"):  # calibration, every epoch
            assert len(sweep.client.get_metric_history(child.info.run_id, name)) == 3, name
        saved = sweep.client.download_artifacts(
            child.info.run_id, "calibration/reliability.json", str(tmp_path)
        )
        bins = json.loads(Path(saved).read_text())
        assert bins["epoch"] == 3 and sum(bins["count"]) == 450 and len(bins["confidence_sum"]) == 15
        redrawn = sum(abs(a - b) for a, b in zip(bins["correct_sum"], bins["confidence_sum"])) / 450
        assert 100 * redrawn == pytest.approx(metrics["test_ece"]), "the diagram's bins give its ECE back"


def test_each_trial_logs_system_metrics_every_epoch(sweep: Sweep) -> None:
    for child in sweep.runs("trial"):
        for name in ("system/epoch_s", "system/train_samples_per_s", "system/cpu_percent", "system/rss_mb"):
            history = sweep.client.get_metric_history(child.info.run_id, name)
            assert sorted(int(m.step) for m in history) == [1, 2, 3], name
            # CPU % is read off the process's clock ticks: an epoch of a few ms can read 0
            assert all(m.value >= 0 for m in history) and any(m.value > 0 for m in history), name
        rss = [m.value for m in sweep.client.get_metric_history(child.info.run_id, "system/rss_mb")]
        assert all(100 < value < 8000 for value in rss), rss  # a Ray worker with torch: hundreds of MiB
        # 1,347 training examples an epoch, trained at more than a thousand a second on any CPU
        rates = sweep.client.get_metric_history(child.info.run_id, "system/train_samples_per_s")
        assert min(m.value for m in rates) > 1000


def test_each_trial_logs_its_dataset_as_an_mlflow_input(sweep: Sweep) -> None:
    from trainables import load_data

    expected = load_data("digits")
    for child in sweep.runs("trial"):
        (given,) = child.inputs.dataset_inputs
        dataset, tags = given.dataset, {tag.key: tag.value for tag in given.tags}
        assert (dataset.name, dataset.digest, dataset.source_type) == ("digits", expected.digest(), "local")
        assert json.loads(dataset.source)["uri"].endswith("sklearn/datasets/data/digits.csv.gz")
        assert json.loads(dataset.profile) == {
            "splits": "train 1347x1x8x8, test 450x1x8x8 (float32)",
            "classes": 10,
        }
        assert tags["mlflow.data.context"] == "train"
        if child.data.params["label_noise"] != "0.0":  # the seed and the share of labels it redrew
            assert tags["label_noise_seed"] == child.data.params["seed"]
            assert float(tags["labels_changed_pct"]) == pytest.approx(child.data.metrics["labels_changed"])
        else:
            assert "label_noise_seed" not in tags


def test_the_parent_run_holds_the_comparison(sweep: Sweep) -> None:
    (parent,) = sweep.runs("parent")
    logged = {a.path for a in sweep.client.list_artifacts(parent.info.run_id, "comparison")}
    assert {
        "comparison/comparison_parallel_coordinates.png",
        "comparison/comparison_by_setting.csv",
    } <= logged
    # alpha is the one hyperparameter swept (the seed and the noise rate are not): nothing to rank
    assert "comparison/comparison_importance.png" not in logged


@ONCE
def test_version_prints_the_code_version_the_runs_log(sweep: Sweep) -> None:
    import mixup_tune as package

    done = cli_in_process("--version", cwd=sweep.workdir)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    logged = {run.data.tags["mixup_tune.code_version"] for run in sweep.runs("trial")}
    assert {done.stdout.removeprefix(f"mixup-tune {package.__version__}, code version ").strip()} == logged


@ONCE
def test_quiet_leaves_out_the_live_view_but_keeps_the_summary(sweep: Sweep) -> None:
    assert f"sweep {sweep.name}: " not in sweep.first.stdout  # the live view's line
    assert "trials run" in sweep.first.stdout and "completed" in sweep.first.stdout


@ONCE
def test_a_logged_trial_equals_the_same_config_trained_alone(sweep: Sweep) -> None:
    """Ray, reused workers and MLflow change nothing: the numbers are those of trainables.train."""
    torch.set_num_threads(1)  # as in a Ray worker with one CPU
    child = next(
        c
        for c in sweep.runs("trial")
        if c.data.params["alpha"] == "1.0" and c.data.params["label_noise"] == "0.4"
    )
    options = {key: parse_param(value) for key, value in child.data.params.items()}
    alone = train(TrainConfig.from_dict(options)).history
    logged = sorted(sweep.client.get_metric_history(child.info.run_id, "test_error"), key=lambda m: m.step)
    assert [m.value for m in logged] == [epoch["test_error"] for epoch in alone]


@ONCE
def test_runs_lists_every_trial(sweep: Sweep) -> None:
    result = cli_in_process(
        "runs",
        sweep.name,
        "--tracking-uri",
        sweep.tracking_uri,
        "--csv",
        str(sweep.workdir / "runs.csv"),
        cwd=sweep.workdir,
    )
    assert result.returncode == 0, result.stderr
    # every trial FINISHED: said once, in the caption, when the status column does not fit
    assert "4 trials" in result.stdout and (
        result.stdout.count("FINISHED") == 4 or "status (all FINISHED)" in " ".join(result.stdout.split())
    ), result.stdout
    # piped, so rich's 80 columns: readable, no cell cut to "…" (tests/mixup_tune/test_runs_table.py)
    lines = result.stdout.splitlines()
    assert "…" not in result.stdout and max(map(len, lines)) <= 80, result.stdout
    assert "alpha" in result.stdout and "label_" in result.stdout and "best test" in result.stdout, (
        result.stdout
    )
    table = pd.read_csv(sweep.workdir / "runs.csv")
    assert len(table) == 4 and set(table["alpha"]) == {0, 1}


@ONCE
def test_analyze_writes_figure_table_and_report_and_logs_them(sweep: Sweep) -> None:
    out = sweep.workdir / "analysis"
    # in their own processes, as a user runs them (in one process, Optuna once left its ggplot style behind:
    # tests/analysis/test_compare.py)
    result = mixup_tune(
        "analyze", sweep.name, "--tracking-uri", sweep.tracking_uri, "--out", str(out), cwd=sweep.workdir
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out / "bias_variance.csv")
    assert len(table) == 4 and set(table["last_test_error_n"]) == {1}
    assert (out / "bias_variance.png").stat().st_size > 10_000 and (
        out / "bias_variance.pdf"
    ).read_bytes().startswith(b"%PDF")
    report = (out / "report.md").read_text()
    assert (
        f"# Sweep `{sweep.name}` (bias_variance)" in report
        and "![bias-variance](bias_variance.png)" in report
    )
    parent = sweep.runs("parent")[0].info.run_id
    logged = {a.path for a in sweep.client.list_artifacts(parent, "analysis")}
    expected = {"runs.csv", "bias_variance.csv", "bias_variance.png", "bias_variance.pdf", "report.md"}
    assert {f"analysis/{name}" for name in expected} <= logged
    again = sweep.workdir / "again"
    mixup_tune(
        "analyze", sweep.name, "--tracking-uri", sweep.tracking_uri, "--out", str(again), cwd=sweep.workdir
    )
    for name in expected:  # the same runs give the same bytes
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


def test_running_the_same_sweep_again_duplicates_nothing(sweep: Sweep) -> None:
    history_before = {
        c.info.run_id: len(sweep.client.get_metric_history(c.info.run_id, "test_error"))
        for c in sweep.runs("trial")
    }
    again = sweep.run()
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(sweep.runs("parent")) == 1 and len(sweep.runs("trial")) == 4
    assert {
        c.info.run_id: len(sweep.client.get_metric_history(c.info.run_id, "test_error"))
        for c in sweep.runs("trial")
    } == history_before

    names = {c.info.run_id: c.info.run_name for c in sweep.runs("trial")}

    grown = sweep.run("--set", "alpha=[0, 1, 2]")  # two new trials; the four old ones are skipped
    assert grown.returncode == 0, grown.stderr[-2000:]
    assert len(sweep.runs("parent")) == 1 and len(sweep.runs("trial")) == 6
    assert all(c.info.status == "FINISHED" for c in sweep.runs("trial"))
    # each trial run is named by its setting, and an old run keeps its name when the sweep runs again
    for child in sweep.runs("trial"):
        alpha, noise = (parse_param(child.data.params[key]) for key in ("alpha", "label_noise"))
        assert child.info.run_name == f"alpha={alpha:g} label_noise={noise:g}"
        assert names.get(child.info.run_id, child.info.run_name) == child.info.run_name
    # The closing summary's best is the whole sweep's, the four skipped trials included, and it says how
    # many trials ran this time (it once gave the best of the two new ones only).
    assert re.search(r"trials run this time\s+│\s+2\b", grown.stdout), grown.stdout
    errors = {
        (parse_param(c.data.params["alpha"]), parse_param(c.data.params["label_noise"])): c.data.metrics[
            "test_error"
        ]
        for c in sweep.runs("trial")
    }
    (alpha, noise), best = min(errors.items(), key=lambda item: item[1])
    old_best = min(error for (a, _), error in errors.items() if a != 2)
    new_best = min(error for (a, _), error in errors.items() if a == 2)
    shown = re.search(r"best test_error of (\d+) finished\s+│\s+(\S+) \((.*?)\)", grown.stdout)
    assert shown is not None, grown.stdout
    assert shown[1] == "6" and float(shown[2]) == pytest.approx(best, abs=5e-4), grown.stdout
    assert f"alpha={alpha}" in shown[3] and f"label_noise={noise}" in shown[3], grown.stdout
    # Seeded, so a fact of this setting: the best is an old trial, so a best over this run's alone fails.
    assert old_best < new_best, "alpha=2 no longer trails: grow the sweep by a worse setting"


def test_a_trial_that_raises_is_retried_then_failed_and_the_sweep_goes_on(sweep: Sweep) -> None:
    # A conv net on tabular data raises inside the trial on every attempt; the MLP beside it is fine.
    name = f"{sweep.name}-broken"
    overrides = [
        "trainable.dataset=iris",
        "trainable.cutout=0",  # tabular: no images to cut out
        "trainable.epochs=2",
        "alpha=[1]",
        "label_noise=[0]",
        "search.model=[mlp, cnn]",
        "tune.max_failures=1",
    ]
    result = sweep.run("--name", name, *[arg for o in overrides for arg in ("--set", o)])
    assert result.returncode == 1, result.stdout[-3000:]
    broken = Sweep(name, sweep.spec, sweep.workdir, sweep.tracking_uri, result)
    children = {child.data.params["model"]: child for child in broken.runs("trial")}
    assert set(children) == {"mlp", "cnn"}, "one run per trial, retries included"
    failed, finished = children["cnn"], children["mlp"]
    assert failed.info.status == "FAILED"
    assert failed.data.tags["mixup_tune.failures"] == "2", "the first attempt and max_failures=1 retry"
    assert "needs image input" in failed.data.tags["mixup_tune.error"]
    assert finished.info.status == "FINISHED" and finished.data.tags["mixup_tune.failures"] == "0"
    assert len(broken.client.get_metric_history(finished.info.run_id, "test_error")) == 2
    assert broken.runs("parent")[0].info.status == "FAILED"


# Each case in this process, but for the first and the local Ray's refusal, which a real process checks too:
# the one line on stderr and exit code 2 as a user's shell sees them, and Ray's start in a fresh process.
IN_A_PROCESS = pytest.mark.in_a_process


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(
            ["--set", "alpha=[0, -1]"], "search.alpha[1]: must be a finite number >= 0", marks=IN_A_PROCESS
        ),
        (
            ["--set", "trainable.dataset=cifar10", "--set", "trainable.data_root=/nonexistent"],
            "dataset 'cifar10': files not found",
        ),
        (["--set", "trainable.modle=mlp"], "trainable.modle: unknown key"),
        (["--set", "cutout=9"], "cutout: 9 pixels is larger than the 8x8 images (dataset 'digits')"),
        (["--set", "trainable.dataset=iris"], "cutout: needs images; this dataset's examples are 4 features"),
        (
            ["--set", "trainable.dataset=iris", "--set", "cutout=0", "--set", "mix_method=cutmix"],
            "mix_method: cutmix needs images; this dataset's examples are 4 features (dataset 'iris')",
        ),
        (["--bogus-flag"], "unrecognized arguments: --bogus-flag"),
        # more than a local Ray has: every trial would stay PENDING for good
        pytest.param(
            ["--set", "resources.cpu=64"],
            "resources.cpu: each trial asks for 64 CPU, but this machine's Ray has",
            marks=IN_A_PROCESS,
        ),
        (
            ["--set", "resources.gpu=64"],
            "resources.gpu: each trial asks for 64 GPU, but this machine's Ray has",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_creates_nothing(
    tmp_path: Path, extra: list[str], expected: str, request: pytest.FixtureRequest
) -> None:
    # Refused before the tracking store is touched, so one store stands for every kind.
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_SPEC.format(name="refused"))
    command = ["run", str(spec), "--tracking-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", *extra]
    in_a_process = request.node.get_closest_marker("in_a_process") is not None
    result = mixup_tune(*command, cwd=tmp_path) if in_a_process else cli_in_process(*command, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml"], "no MLflow store, no Ray storage"


def test_bad_data_files_exit_2_with_one_line_and_create_nothing(tmp_path: Path) -> None:
    """What the data check refuses before the first MLflow run, each in this process."""
    rng = np.random.default_rng(0)
    good = {
        "x_train": rng.random((30, 4)),
        "y_train": np.arange(30) % 3,
        "x_test": rng.random((9, 4)),
        "y_test": np.arange(9) % 3,
    }
    cases = {
        "lengths": ({"y_train": np.arange(29) % 3}, "x_train has 30 examples but y_train has 29 labels"),
        "negative": ({"y_test": np.r_[-2, np.arange(8) % 3]}, "y_test holds the label -2"),
        "nan": (
            {"x_train": np.where(np.arange(120).reshape(30, 4) == 77, np.nan, 0.5)},
            "x_train holds NaN or infinite values (first in example 19)",
        ),
        "not-a-zip": (None, "cannot read"),
    }
    for case, (arrays, message) in cases.items():
        folder = tmp_path / case
        folder.mkdir()
        if arrays is None:
            (folder / "data.npz").write_bytes(b"PK\x03\x04" + rng.bytes(300))  # a zip's magic, then junk
        else:
            np.savez(folder / "data.npz", **{**good, **arrays})
        spec = TINY_SPEC.format(name=f"bad-{case}").replace(
            "dataset: digits", f"dataset: npz, data_path: {folder / 'data.npz'}"
        )
        (folder / "tiny.yaml").write_text(spec)
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        done = cli_in_process(
            "run", "tiny.yaml", "--tracking-uri", uri, "--storage", str(folder / "ray"), cwd=folder
        )
        stderr = done.stderr
        assert done.returncode == 2 and stderr.count("\n") == 1, (case, stderr[-3000:])
        assert "data.npz" in stderr and message in stderr, (case, stderr)
        assert sorted(p.name for p in folder.iterdir()) == ["data.npz", "tiny.yaml"], (
            "no MLflow store, no Ray storage"
        )


def test_plan_creates_nothing_in_any_store(sweep: Sweep, tmp_path: Path) -> None:
    """``plan`` reads the store (what finished) and writes nothing to it: no experiment, no run."""
    (tmp_path / "planned.yaml").write_text(
        TINY_SPEC.format(name="planned").replace("mixup-integration", "mixup-planned")
    )
    before = len(sweep.client.search_runs([e.experiment_id for e in sweep.client.search_experiments()]))
    planned = cli_in_process("plan", "planned.yaml", "--tracking-uri", sweep.tracking_uri, cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert re.search(r"trials `run` starts\s+│\s+4\b", planned.stdout), planned.stdout
    assert sweep.client.get_experiment_by_name("mixup-planned") is None
    after = len(sweep.client.search_runs([e.experiment_id for e in sweep.client.search_experiments()]))
    assert after == before and sorted(p.name for p in tmp_path.iterdir()) == ["planned.yaml"]


@ONCE
def test_unknown_sweep_name_is_a_clear_error(sweep: Sweep) -> None:
    for command in ("runs", "analyze", "resume", "sync"):
        done = cli_in_process(
            command, "no-such-sweep", "--tracking-uri", sweep.tracking_uri, cwd=sweep.workdir
        )
        stderr = done.stderr
        assert done.returncode == 2 and "no-such-sweep" in stderr and stderr.count("\n") == 1, stderr


def test_reading_from_a_missing_sqlite_store_creates_nothing(tmp_path: Path) -> None:
    result = cli_in_process("runs", "quickstart", cwd=tmp_path)
    assert (
        result.returncode == 2 and "no MLflow database at" in result.stderr and result.stderr.count("\n") == 1
    )
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_tracking_server_is_refused_before_anything_runs(tmp_path: Path) -> None:
    from helpers import free_port

    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_SPEC.format(name="unreachable"))
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = cli_in_process(
        "run", str(spec), "--tracking-uri", uri, "--storage", str(tmp_path / "ray"), cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and f"cannot reach MLflow tracking server {uri}" in result.stderr, (
        result.stderr
    )
    assert not (tmp_path / "ray").exists(), "no trial may start"


def test_a_file_that_is_not_a_database_is_refused_in_one_line_by_every_command(tmp_path: Path) -> None:
    store = tmp_path / "mlflow.db"
    store.write_text("not a database\n")
    (tmp_path / "tiny.yaml").write_text(TINY_SPEC.format(name="refused"))
    uri = f"sqlite:///{store}"
    commands = [["run", "tiny.yaml"], ["runs", "refused"], ["analyze", "refused"]]
    for command in commands:
        stderr = (done := cli_in_process(*command, "--tracking-uri", uri, cwd=tmp_path)).stderr
        assert done.returncode == 2 and stderr.count("\n") == 1 and "file is not a database" in stderr, stderr
    assert store.read_text() == "not a database\n" and sorted(p.name for p in tmp_path.iterdir()) == [
        "mlflow.db",
        "tiny.yaml",
    ]
