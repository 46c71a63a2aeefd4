"""Section 3.7's toy GAN: the trainable alone (metrics, snapshots, seeded draws, bit-for-bit resume), its
options, and a real sweep."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch
from helpers import run_and_analyze
from mlflow.tracking import MlflowClient

from analysis import load_runs
from mixup_tune.spec import SpecError, validate_spec
from trainables import ConfigError, TrainConfig, train
from trainables.tasks import history_entry
from trainables.tasks.gan import GanTrial
from trainables.tasks.gan_targets import TARGETS, SampleQuality


def tiny(gan: dict[str, Any] | None = None, **options: Any) -> TrainConfig:
    """A GAN trial of seconds: 16-wide networks, 15 generator iterations per epoch."""
    gan_options = {
        "generator_widths": [16, 16],
        "discriminator_widths": [16, 16],
        "iterations_per_epoch": 15,
        "discriminator_steps": 2,
        "snapshots": [5, 15, 30],
        "snapshot_size": 50,
        "eval_samples": 200,
        **(gan or {}),
    }
    base = {
        "task": "gan",
        "alpha": 0.2,
        "batch_size": 32,
        "epochs": 2,
        "optimizer": {"name": "adam", "lr": 1e-3, "weight_decay": 0},
    }
    return TrainConfig.from_dict({**base, **options, "gan": gan_options})


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_the_targets_own_samples_score_as_a_perfect_generator_and_a_collapsed_one_does_not(name: str) -> None:
    target, quality = TARGETS[name], SampleQuality(TARGETS[name], torch.device("cpu"))
    perfect = quality(target.sample(2500, torch.Generator().manual_seed(1)))
    # two draws differ by sampling noise only
    assert perfect["high_quality"] > 98 and perfect["sample_distance"] < 0.1
    # every sample on one mode: high quality, one mode, far in distribution
    collapsed = quality(target.skeleton[:1].repeat(2500, 1))
    assert collapsed["high_quality"] == 100 and collapsed["sample_distance"] > 5 * perfect["sample_distance"]
    far = quality(torch.full((2500, 2), 20.0))
    assert far["high_quality"] == 0 and far["sample_distance"] > 10
    if target.modes:
        assert (
            perfect["modes_covered"] == len(target.skeleton)
            and collapsed["modes_covered"] == 1
            and far["modes_covered"] == 0
        )
    else:
        assert "modes_covered" not in perfect  # a curve has no modes to count


def test_a_gan_trial_reports_its_metrics_every_epoch_and_its_snapshots_when_reached() -> None:
    reports: list[dict[str, Any]] = []
    result = train(tiny(), on_epoch=lambda metrics, _state: reports.append(metrics))
    assert [r["iteration"] for r in reports] == [15, 30] and not result.diverged
    assert [sorted(r["snapshots"], key=int) for r in reports] == [["5", "15"], ["30"]]
    assert all(
        len(points) == 50 and len(points[0]) == 2 for r in reports for points in r["snapshots"].values()
    )
    for r in reports:
        assert 0 <= r["high_quality"] <= 100 and 0 <= r["modes_covered"] <= 8 and r["sample_distance"] > 0
        assert r["d_loss"] > 0 and r["g_loss"] < 0  # minimax: the generator ascends the discriminator's loss
    assert "snapshots" not in result.history[0]  # checkpoints hold numbers only


def test_erm_takes_no_mixup_draw_and_mixup_changes_what_is_learnt() -> None:
    erm = GanTrial(tiny(alpha=0.0))
    before = erm.mixup.state_dict()["lambda_rng"]
    erm.step()
    assert erm.mixup.state_dict()["lambda_rng"] == before
    mixed = train(tiny()).history[-1]
    assert mixed != train(tiny(alpha=0.0)).history[-1]
    # descends l(d(.), real)
    assert train(tiny({"generator_loss": "non_saturating"})).history[-1]["g_loss"] > 0


@pytest.mark.parametrize("mixing", ["paper", "released_code"])
@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_a_gan_trial_resumes_bit_for_bit_from_its_checkpoint(alpha: float, mixing: str) -> None:
    config = tiny({"mixing": mixing}, alpha=alpha, epochs=3)
    straight: list[Any] = []
    # a copy, as torch.save takes: the live tensors move on
    train(config, on_epoch=lambda metrics, state: straight.append((metrics, copy.deepcopy(state()))))
    resumed: list[Any] = []
    train(
        config,
        on_epoch=lambda metrics, state: resumed.append((metrics, copy.deepcopy(state()))),
        resume_state=straight[0][1],
    )
    assert [history_entry(m) for m, _ in resumed] == [
        history_entry(m) for m, _ in straight[1:]
    ]  # metrics and snapshots, to the last bit
    for name in ("generator", "discriminator"):
        for key, value in straight[-1][1][name].items():
            assert torch.equal(value, resumed[-1][1][name][key]), key
    with pytest.raises(ValueError, match="different config"):
        train(tiny(alpha=alpha, epochs=3, seed=1), resume_state=straight[0][1])


def test_the_released_codes_discriminator_learns_two_shuffled_batches_mixed_point_by_point() -> None:
    """hongyi-zhang/mixup's recipe: real and generated points labelled 1 and 0, shuffled; two such batches
    mixed
    with a weight ~ Uniform(0, alpha) per point, the labels likewise; unmixed at alpha = 0."""
    unmixed = GanTrial(tiny({"mixing": "released_code", "target": "ring_unit"}, alpha=0.0)).critic_batch()
    assert unmixed[0].shape == (64, 2) and sorted(unmixed[1].flatten().tolist()) == [0.0] * 32 + [1.0] * 32
    assert unmixed[1][:32].flatten().tolist() != [1.0] * 32, "shuffled, not real then fake"
    trial = GanTrial(tiny({"mixing": "released_code", "target": "ring_unit"}, alpha=0.4))
    labels = torch.cat([trial.critic_batch()[1] for _ in range(200)]).flatten()
    assert ((labels <= 0.4) | (labels >= 0.6)).all(), "w l1 + (1 - w) l2 with w at most alpha"
    # the pairs of a real and a fake point
    weights = torch.where(labels < 0.5, labels, 1 - labels)[(labels > 0) & (labels < 1)]
    assert len(weights) > 5000 and abs(float(weights.mean()) - 0.2) < 0.01, (
        "Uniform(0, alpha) has mean alpha / 2"
    )


def test_the_released_code_recipe_refuses_alpha_above_one_and_leaves_paper_trial_ids_alone() -> None:
    with pytest.raises(ConfigError, match="alpha: is the upper bound of Uniform"):
        tiny({"mixing": "released_code"}, alpha=2.0)
    assert (
        "gan.mixing" not in tiny().flat()
        and tiny({"mixing": "released_code"}).flat()["gan.mixing"] == "released_code"
    )


def test_gan_options_are_checked_and_classifier_trials_keep_their_parameters() -> None:
    with pytest.raises(ConfigError, match="label_noise: is not used by gan trials"):
        TrainConfig.from_dict({"task": "gan", "label_noise": 0.2})
    with pytest.raises(ConfigError, match="gan.target"):
        TrainConfig.from_dict({"task": "gan", "gan": {"target": "moons"}})
    # trial ids of classifiers unchanged
    assert not any(key == "task" or key.startswith("gan.") for key in TrainConfig().flat())
    assert "dataset" not in tiny().flat() and tiny().flat()["gan.target"] == "ring"


def test_a_gan_sweep_optimises_the_sample_distance_and_refuses_classifier_metrics() -> None:
    document = {"name": "g", "study": "gan", "trainable": {"task": "gan"}, "search": {"alpha": [0, 0.2]}}
    assert validate_spec(document).tune.metric == "sample_distance"
    with pytest.raises(SpecError, match="tune.metric: a gan trial reports sample_distance"):
        validate_spec({**document, "tune": {"metric": "test_error"}})
    with pytest.raises(SpecError, match="tune.metric: a classify trial reports test_error"):
        validate_spec({"name": "c", "tune": {"metric": "sample_distance"}})
    with pytest.raises(SpecError, match="task: is one per sweep"):
        validate_spec({**document, "search": {"task": ["classify", "gan"]}})
    with pytest.raises(SpecError, match="study: gan needs trainable.task: gan"):
        validate_spec({"name": "c", "study": "gan"})
    with pytest.raises(SpecError, match="log_models: evaluates a classifier's weights"):
        validate_spec({**document, "log_models": True})


TINY_GAN = """\
name: gan-tiny
study: gan
trainable:
  task: gan
  epochs: 2
  batch_size: 32
  optimizer: {name: adam, lr: 0.001, weight_decay: 0}
  gan: {generator_widths: [16, 16], discriminator_widths: [16, 16], iterations_per_epoch: 10,
        discriminator_steps: 2, snapshots: [5, 20], snapshot_size: 100, eval_samples: 200}
search:
  alpha: [0, 0.2]
  gan.target: [ring, spiral]
  optimizer.lr: [0.001, 0.0001]
resources: {cpu: 1, gpu: 0}
"""


@pytest.mark.integration
def test_a_gan_sweep_logs_metrics_and_snapshots_and_analyze_measures_stability(tmp_path: Path) -> None:
    uri = run_and_analyze(tmp_path, TINY_GAN)
    runs = load_runs("gan-tiny", uri)
    assert len(runs) == 8 and (runs["status"] == "FINISHED").all()
    assert "dataset" not in runs and (runs["iteration"] == 20).all() and runs["sample_distance"].gt(0).all()
    assert runs.loc[runs["gan.target"] == "ring", "modes_covered"].between(0, 8).all()
    client = MlflowClient(uri)
    run_id = runs["run_id"].iloc[0]
    assert [a.path for a in client.list_artifacts(run_id, "snapshots")] == [
        f"snapshots/iteration_0000{i}.{s}" for i in ("05", "20") for s in ("json", "png")
    ]
    assert len(client.get_metric_history(run_id, "sample_distance")) == 2
    out = tmp_path / "out"
    stability = pd.read_csv(out / "gan_stability.csv")
    assert sorted(zip(stability["target"], stability["alpha"])) == [
        ("ring", 0),
        ("ring", 0.2),
        ("spiral", 0),
        ("spiral", 0.2),
    ]
    assert (stability["runs"] == 2).all()  # two learning rates (the setting) per target and method
    ring_erm = runs[(runs["gan.target"] == "ring") & (runs["alpha"] == 0)]["sample_distance"]
    assert stability.set_index(["target", "alpha"]).loc[("ring", 0), "sample_distance_max"] == pytest.approx(
        ring_erm.max(), abs=1e-4
    )
    report = (out / "report.md").read_text()
    assert "## GAN stabilisation (Section 3.7)" in report and "optimizer.lr" in report
    for figure in ("gan_stability.png", "gan_samples.png"):
        assert (out / figure).stat().st_size > 10_000
