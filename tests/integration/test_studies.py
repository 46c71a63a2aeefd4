"""The paper's studies, run for real on a local Ray and read back: the finding must show in the regenerated
tables. Sweeps run in this process on the module's local Ray (``helpers.cli_in_process``); ``analyze`` runs
in its own processes, whose figures are compared byte for byte."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from helpers import CLI, cli_in_process

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_label_noise_memorisation_on_real_digits(tmp_path: Path) -> None:
    """Table 2's finding on a cut-down small sweep: ERM memorises corrupted labels, mixup with alpha = 32 does
    not and tests better."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run = cli_in_process(
        *[
            "run",
            str(REPO / "sweeps" / "label_noise-small.yaml"),
            "--tracking-uri",
            uri,
            "--quiet",
            "--name",
            "ln-test",
            "--set",
            "label_noise=[0.5]",
            "--set",
            "seed=[0]",
            "--set",
            "variants=[{alpha: 0}, {dropout: 0.7}, {alpha: 32}]",
        ],
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = tmp_path / "report"
    analyze = subprocess.run(
        [CLI, "analyze", "ln-test", "--tracking-uri", uri, "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert analyze.returncode == 0, analyze.stderr

    table = pd.read_csv(out / "label_noise_table2.csv")
    assert list(table["method"]) == ["ERM", "dropout", "mixup"] and list(table["setting"].fillna("")) == [
        "",
        "p=0.7",
        "alpha=32",
    ]
    assert not any("(paper)" in column for column in table.columns), (
        "digits and an MLP are not Table 2's setting"
    )
    finding = pd.read_csv(out / "label_noise_finding.csv").iloc[0]
    assert finding["ERM train error, corrupted"] < 10, "ERM memorises the corrupted labels"
    assert finding["mixup alpha>=8 train error, corrupted (lowest)"] > 60, "mixup does not"
    assert finding["ERM memorises more"] and finding["mixup beats ERM on last test error"]
    report = (out / "report.md").read_text()
    assert "Table 2" in report and "![memorisation](label_noise_memorisation.png)" in report
    assert (
        "Table 2 is CIFAR-10, PreAct ResNet-18, 200 epochs, and these runs differ in dataset digits; network "
        "mlp; epochs 100." in report
    )
    assert (out / "label_noise_memorisation.png").stat().st_size > 20_000 and (
        out / "label_noise_memorisation.pdf"
    ).exists()
    _assert_analyze_repeats(out, "ln-test", uri, tmp_path)


def _assert_analyze_repeats(out: Path, sweep: str, uri: str, cwd: Path) -> None:
    """Analysing the same runs again writes the same bytes, figures included."""
    again = out.parent / f"{out.name}-again"
    result = subprocess.run(
        [CLI, "analyze", sweep, "--tracking-uri", uri, "--out", str(again)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    for path in out.iterdir():
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name


def test_adversarial_white_and_black_box_on_real_digits(tmp_path: Path) -> None:
    """White box at the end of each trial; black box from the surrogate after the sweep, logged into each
    target's run."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = [
        "run",
        str(REPO / "sweeps" / "adversarial-small.yaml"),
        "--tracking-uri",
        uri,
        "--quiet",
        "--name",
        "adv-test",
        "--set",
        "alpha=[0, 1]",
        "--set",
        "seed=[0]",
        "--set",
        "trainable.epochs=8",
        "--set",
        "trainable.adversarial_examples=200",
    ]
    run = cli_in_process(*command, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    client = MlflowClient(uri)
    trials = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], "tags.`mixup_tune.role` = 'trial'"
    )
    assert len(trials) == 3
    [surrogate] = [t for t in trials if t.data.tags.get("mixup_tune.surrogate") == "true"]
    assert surrogate.data.params["seed"] == "1000" and "black_box_fgsm_error" not in surrogate.data.metrics
    for target in (t for t in trials if t is not surrogate):
        metrics = target.data.metrics
        assert 0 <= metrics["black_box_fgsm_error"] <= 100 and metrics["black_box_epsilon"] == pytest.approx(
            0.1
        )
        assert (
            metrics["white_box_ifgsm_error"] >= metrics["white_box_fgsm_error"] > metrics["last_test_error"]
        )
        assert [a.path for a in client.list_artifacts(target.info.run_id, "model")] == ["model/model.pt"]

    # all finished: no trial, no second evaluation
    again = cli_in_process(*command, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    for target in (t for t in trials if t is not surrogate):
        assert len(client.get_metric_history(target.info.run_id, "black_box_fgsm_error")) == 1

    out = tmp_path / "report"
    analyze = subprocess.run(
        [CLI, "analyze", "adv-test", "--tracking-uri", uri, "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert analyze.returncode == 0, analyze.stderr
    table = pd.read_csv(out / "adversarial_table3.csv")
    assert list(table["model"]) == ["ERM", "mixup alpha=1"], (
        "Table 3's ImageNet ResNet-101 numbers are not printed beside digits"
    )
    assert {"white box FGSM top-1", "black box I-FGSM top-5"} <= set(table.columns)
    report = (out / "report.md").read_text()
    assert (
        "Table 3 is ImageNet, ResNet-101, and these runs differ in dataset digits; network cnn; epochs 8."
        in report
        and (out / "adversarial.png").exists()
    )


def test_in_between_from_logged_models(tmp_path: Path) -> None:
    """Figure 2: models are logged by the sweep, reloaded by analyze and measured between training
    examples."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    command = [
        "run",
        str(REPO / "sweeps" / "in_between-small.yaml"),
        "--tracking-uri",
        uri,
        "--quiet",
        "--name",
        "ib-test",
        "--set",
        "seed=[0]",
        "--set",
        "trainable.epochs=10",
    ]
    run = cli_in_process(*command, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = tmp_path / "report"
    analyze = subprocess.run(
        [CLI, "analyze", "ib-test", "--tracking-uri", uri, "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert analyze.returncode == 0, analyze.stderr
    table = pd.read_csv(out / "in_between.csv")
    assert len(table) == 2 * 11 and set(table["alpha"]) == {0.0, 1.0}
    middle = table[table["lambda"] == 0.5].set_index("alpha")
    assert middle.loc[1.0, "miss_rate_mean"] < middle.loc[0.0, "miss_rate_mean"]
    assert middle.loc[1.0, "gradient_norm_mean"] < middle.loc[0.0, "gradient_norm_mean"]
    assert "Figure 2" in (out / "report.md").read_text() and (out / "in_between.pdf").exists()
    _assert_analyze_repeats(out, "ib-test", uri, tmp_path)
