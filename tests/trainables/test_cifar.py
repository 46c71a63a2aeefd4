"""Section 3.2: CIFAR-100 from its usual files, WideResNet-28-10 and DenseNet-BC-190, and the CIFAR study's
analysis."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from trainables import DatasetError, load_data
from trainables.models import build_model
from trainables.models.cifar import DenseNetBC, WideResNet


def _fake_cifar100(root: Path, per_split: tuple[int, int] = (300, 100)) -> None:
    """CIFAR-100's python layout: pickled dicts with 'data' (N x 3072 uint8) and 'fine_labels', small."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    generator = np.random.default_rng(0)
    for name, count in zip(("train", "test"), per_split):
        labels = np.arange(count) % 100
        # a learnable signal
        data = (generator.integers(0, 40, (count, 3, 32, 32)) + labels[:, None, None, None] * 2).astype(
            np.uint8
        )
        with open(folder / name, "wb") as file:
            pickle.dump(
                {
                    "data": data.reshape(count, -1),
                    "fine_labels": labels.tolist(),
                    "coarse_labels": (labels // 5).tolist(),
                },
                file,
            )


def test_cifar100_reads_torchvisions_pickles(tmp_path: Path, isolated_cache: Path) -> None:
    _fake_cifar100(tmp_path)
    data = load_data("cifar100", data_root=tmp_path)
    assert (
        tuple(data.x_train.shape) == (300, 3, 32, 32)
        and data.x_train.dtype == torch.uint8
        and data.num_classes == 100
    )
    assert data.y_test.tolist() == [i % 100 for i in range(100)]
    with open(tmp_path / "cifar-100-python" / "train", "rb") as file:
        first = np.asarray(pickle.load(file)["data"][0]).reshape(3, 32, 32)
    assert torch.equal(data.x_train[0], torch.from_numpy(first)), "channels first, as torchvision's reshape"


def test_a_missing_cifar100_names_every_layout(tmp_path: Path, isolated_cache: Path) -> None:
    with pytest.raises(
        DatasetError, match=r"cifar-100-python.*cifar100-jpg/\{train,test\}.*cifar100-jpg.tar.gz"
    ):
        load_data("cifar100", data_root=tmp_path)


@pytest.mark.parametrize(("name", "parameters"), [("wrn28_10", 36.5e6), ("densenet_bc190", 25.8e6)])
def test_the_papers_networks_have_their_published_size_and_take_cifar_images(
    name: str, parameters: float
) -> None:
    model = build_model(name, (3, 32, 32), 100)
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(parameters, rel=0.02)
    model.eval()
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 32, 32)).shape == (1, 100)


def test_small_versions_train() -> None:
    for model in (WideResNet(3, 10, depth=10, widen=1), DenseNetBC(3, 10, depth=10, growth=4)):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
        losses = []
        for _ in range(5):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
        assert losses[-1] < losses[0]


@pytest.mark.integration
def test_a_tiny_cifar100_sweep_gives_figure3s_table_and_curves(tmp_path: Path) -> None:
    from helpers import run_and_analyze

    _fake_cifar100(tmp_path / "data")
    uri = run_and_analyze(
        tmp_path,
        "name: cifar-tiny\nstudy: cifar\ntrainable: "
        f"{{dataset: cifar100, data_root: {tmp_path / 'data'}, model: cnn, epochs: 3, batch_size: 50}}\n"
        "search: {alpha: [0, 1], seed: [0, 1]}\nresources: {cpu: 1, gpu: 0}\n",
    )
    from analysis import load_runs

    runs = load_runs("cifar-tiny", uri)
    table = pd.read_csv(tmp_path / "out" / "cifar.csv")
    by_seed = runs.pivot_table(index="seed", columns="alpha", values="last_test_error")
    mixup = table[table["alpha"] == 1].iloc[0]
    assert mixup["model"] == "cnn" and mixup["dataset"] == "cifar100"
    assert mixup["minus_erm_mean"] == pytest.approx((by_seed[1.0] - by_seed[0.0]).mean(), abs=1e-3)
    assert (tmp_path / "out" / "cifar_curves.png").stat().st_size > 10_000
    assert (
        "## CIFAR: ERM against mixup per network (Section 3.2, Figure 3)"
        in (tmp_path / "out" / "report.md").read_text()
    )
