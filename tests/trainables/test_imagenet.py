"""Section 3.1's recipe end to end on a tiny generated ImageFolder: torchvision's networks, Goyal's schedule,
top-1 and top-5."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.paper import TABLE1
from trainables.models import build_model


@pytest.mark.parametrize(
    ("name", "parameters"),
    [
        ("resnet50", 25.56e6),
        ("resnet101", 44.55e6),
        ("resnext101_32x4d", 44.18e6),
        ("resnext101_64x4d", 83.46e6),
    ],
)
def test_the_papers_imagenet_networks_have_their_published_size(name: str, parameters: float) -> None:
    model = build_model(name, (3, 224, 224), 1000)
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(parameters, rel=0.01)


@pytest.mark.integration
def test_the_imagenet_sweep_runs_end_to_end_on_a_tiny_image_folder(tmp_path: Path) -> None:
    from helpers import cli_in_process, write_image_folder

    write_image_folder(tmp_path / "images")
    spec = (Path(__file__).resolve().parents[2] / "sweeps" / "imagenet.yaml").read_text()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    overrides = [
        f"trainable.data_path={tmp_path / 'images'}",
        "trainable.crop_size=32",
        "trainable.loader_workers=0",
        "trainable.epochs=3",
        "trainable.batch_size=16",
        "trainable.precision=fp32",
        "schedule.milestones=[2]",
        "schedule.warmup_epochs=1",
        "model=[resnet50]",
        "alpha=[0, 0.2]",
        "resources.cpu=1",
        "resources.gpu=0",
    ]
    (tmp_path / "imagenet.yaml").write_text(spec)
    commands = [
        ["run", "imagenet.yaml", "--quiet", *[a for o in overrides for a in ("--set", o)]],
        ["analyze", "imagenet", "--out", "out"],
    ]
    for command in commands:
        done = cli_in_process(*command, "--tracking-uri", uri, cwd=tmp_path)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    table = pd.read_csv(tmp_path / "out" / "imagenet.csv")
    assert list(table["alpha"]) == [0.0, 0.2] and set(table["model"]) == {"resnet50"}
    assert (table["test_error_top5_mean"] <= table["last_test_error_mean"]).all(), (
        "top-5 error is at most top-1 error"
    )
    assert table["paper_top1"].isna().all(), "3 epochs match no row of Table 1"
    assert "## ImageNet recipe (Section 3.1, Table 1)" in (tmp_path / "out" / "report.md").read_text()
    assert len(TABLE1) == 15


def test_table1_is_matched_by_network_epochs_and_alpha() -> None:
    from analysis.studies.imagenet import imagenet_table

    runs = pd.DataFrame(
        {
            "model": ["resnet50"] * 2 + ["resnext101_32x4d"],
            "epochs": [90, 90, 200],
            "alpha": [0.2, 0.2, 0.4],
            "seed": [0, 1, 0],
            "status": "FINISHED",
            "diverged": False,
            "last_test_error": [24.0, 25.0, 21.0],
            "test_error_top5": [7.0, 8.0, 6.0],
        }
    )
    table = imagenet_table(runs).set_index("model")
    assert table.loc["resnet50", "last_test_error_mean"] == 24.5 and (
        table.loc["resnet50", "paper_top1"],
        table.loc["resnet50", "paper_top5"],
    ) == (23.3, 6.6)
    assert (table.loc["resnext101_32x4d", "paper_top1"], table.loc["resnext101_32x4d", "paper_top5"]) == (
        20.1,
        5.0,
    )
