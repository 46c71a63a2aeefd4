"""mixup's successors as trainable options: label smoothing and Cutout, held to their oracles, and the
calibration metrics every classifier trial reports.

- Label smoothing: every form of the loss equals ``F.cross_entropy(..., label_smoothing=eps)`` against
  the same (mixed) targets, on value and gradient.
- Cutout: the batched masks equal DeVries & Taylor's per-image loop, given the same centres.
- Calibration: ECE equals torchmetrics' ``MulticlassCalibrationError`` (15 bins, L1) and a textbook loop.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchmetrics.classification import MulticlassCalibrationError

from trainables import ConfigError, TrainConfig, Trial, train
from trainables.augment import cutout
from trainables.calibration import BINS, calibration
from trainables.mixing import Draws, MixContext, Mixer, batch_loss, build_mix_method, mixing_hidden
from trainables.mixup import (
    MixupSampler,
    cutmix_boxes,
    erm_loss,
    mixup_cross_entropy,
    one_lambda_cross_entropy,
    soft_target_cross_entropy,
)


def _logits_and_labels(n: int = 64, classes: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, classes, generator=generator) * 3
    return logits.requires_grad_(), torch.randint(classes, (n,), generator=generator)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.35])
def test_label_smoothing_is_torchs_in_every_form_of_the_loss(eps: float) -> None:
    logits, y = _logits_and_labels()
    partner = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(1))]
    weight = 0.3
    one_hot = lambda labels: F.one_hot(labels, 10).float()
    targets = weight * one_hot(y) + (1 - weight) * one_hot(partner)
    oracle_erm = F.cross_entropy(logits, y, label_smoothing=eps)
    oracle_mixed = F.cross_entropy(logits, targets, label_smoothing=eps)
    forms = {
        "erm": (erm_loss(y, eps)(logits), oracle_erm),
        "definition, unmixed": (
            mixup_cross_entropy(logits, [y, y], torch.tensor([[1.0, 0.0]]).expand(len(y), 2), eps),
            oracle_erm,
        ),
        "definition": (
            mixup_cross_entropy(
                logits, [y, partner], torch.tensor([[weight, 1 - weight]]).expand(len(y), 2), eps
            ),
            oracle_mixed,
        ),
        "one lambda": (one_lambda_cross_entropy(logits, y, partner, weight, eps), oracle_mixed),
        "soft targets": (soft_target_cross_entropy(logits, targets, eps), oracle_mixed),
    }
    for name, (loss, oracle) in forms.items():
        assert torch.allclose(loss, oracle, rtol=0, atol=1e-6), name
        (grad,) = torch.autograd.grad(loss, logits)
        (oracle_grad,) = torch.autograd.grad(oracle, logits, retain_graph=True)
        assert torch.allclose(grad, oracle_grad, rtol=0, atol=1e-7), name


def _cutout_loop(x: torch.Tensor, size: int, centres: torch.Tensor) -> torch.Tensor:
    """DeVries & Taylor's Cutout, image by image: a size x size square from centre - size // 2, clipped at
    the borders, zeroed."""
    out = x.clone()
    h, w = x.shape[-2:]
    for i, (cy, cx) in enumerate(centres.tolist()):
        top, left = cy - size // 2, cx - size // 2
        out[i, :, max(top, 0) : min(top + size, h), max(left, 0) : min(left + size, w)] = 0
    return out


@pytest.mark.parametrize("size", [1, 4, 5, 16])
def test_cutout_equals_the_per_image_loop(size: int) -> None:
    x = torch.randn(32, 3, 16, 12) + 5  # no zeros of its own
    drawn = cutout(x, size, torch.Generator().manual_seed(7))
    # the centres, as the batched version draws them from the same generator
    generator = torch.Generator().manual_seed(7)
    centres = torch.stack(
        [torch.randint(16, (32,), generator=generator), torch.randint(12, (32,), generator=generator)], 1
    )
    assert torch.equal(drawn, _cutout_loop(x, size, centres))
    zeroed = (drawn == 0).all(1).sum((1, 2))  # pixels per image
    assert zeroed.max() == min(size, 16) * min(size, 12) and zeroed.min() >= 1
    assert not torch.equal(drawn, cutout(x, size, torch.Generator().manual_seed(8))), "seeded, not fixed"


def test_cutout_keeps_the_memory_format_of_channels_last_batches() -> None:
    x = (torch.randn(4, 3, 8, 8) + 5).contiguous(memory_format=torch.channels_last)
    assert cutout(x, 3, torch.Generator().manual_seed(0)).is_contiguous(memory_format=torch.channels_last)


def _textbook_ece(probabilities: np.ndarray, labels: np.ndarray, bins: int = BINS) -> float:
    confidence, predicted = probabilities.max(1), probabilities.argmax(1)
    ece = 0.0
    for b in range(bins):
        members = (confidence > b / bins) & (confidence <= (b + 1) / bins)
        if members.any():
            accuracy = (predicted[members] == labels[members]).mean()
            ece += members.mean() * abs(accuracy - confidence[members].mean())
    return 100.0 * ece


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_calibration_equals_torchmetrics_and_the_textbook_loop(seed: int) -> None:
    logits, y = _logits_and_labels(n=500, seed=seed)
    logits = logits.detach()
    metrics, bins = calibration(logits, y)
    oracle = MulticlassCalibrationError(num_classes=10, n_bins=BINS, norm="l1")
    assert math.isclose(metrics["test_ece"], 100 * float(oracle(logits.softmax(1), y)), abs_tol=1e-4)
    assert math.isclose(
        metrics["test_ece"], _textbook_ece(logits.softmax(1).double().numpy(), y.numpy()), abs_tol=1e-4
    )
    assert math.isclose(metrics["test_nll"], float(F.cross_entropy(logits, y)), rel_tol=1e-6)
    assert math.isclose(
        metrics["test_confidence"], 100 * float(logits.softmax(1).max(1).values.mean()), rel_tol=1e-6
    )
    assert sum(bins["count"]) == 500 and len(bins["count"]) == BINS
    assert math.isclose(sum(bins["correct_sum"]), float((logits.argmax(1) == y).sum()))
    # the diagram's bins give the ECE back: what analysis redraws from MLflow
    redrawn = sum(abs(c - s) for c, s in zip(bins["correct_sum"], bins["confidence_sum"])) / 500
    assert math.isclose(100 * redrawn, metrics["test_ece"], rel_tol=1e-9)


def test_every_epoch_reports_calibration_on_the_unmixed_test_set() -> None:
    result = train(TrainConfig(dataset="digits", epochs=2, alpha=1.0, label_smoothing=0.1, device="cpu"))
    for epoch in result.history:
        assert (
            0 <= epoch["test_ece"] <= 100 and epoch["test_nll"] > 0 and 10 <= epoch["test_confidence"] <= 100
        )
        assert sum(epoch["reliability"]["count"]) == 450  # digits' test split
    smoothed = result.final["test_confidence"]
    plain = train(TrainConfig(dataset="digits", epochs=2, alpha=1.0, device="cpu")).final["test_confidence"]
    assert smoothed < plain, "smoothed targets make the model less confident"


def test_label_smoothing_changes_training_and_zero_is_exactly_off() -> None:
    base = dict(dataset="digits", epochs=2, alpha=1.0, device="cpu")
    plain = train(TrainConfig(**base)).history
    assert train(TrainConfig(**base, label_smoothing=0.0)).history == plain
    assert train(TrainConfig(**base, label_smoothing=0.2)).final["train_loss"] != plain[-1]["train_loss"]
    assert train(TrainConfig(**base, cutout=0)).history == plain


def test_premixed_and_batch_by_batch_smoothing_train_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """The epoch mixed at once (soft targets) and batch by batch (one lambda): one loss, smoothed the same."""
    import trainables.tasks.classify as classify

    config = TrainConfig(dataset="digits", epochs=2, alpha=1.0, label_smoothing=0.2, device="cpu", seed=4)
    premixed = train(config).history
    monkeypatch.setattr(classify, "PREMIX_MAX_ELEMENTS", 0)
    batched = train(config).history
    for a, b in zip(premixed, batched):
        assert math.isclose(a["train_loss"], b["train_loss"], rel_tol=1e-4), (
            a["train_loss"],
            b["train_loss"],
        )


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"label_smoothing": -0.1}, "label_smoothing"),
        ({"label_smoothing": math.nan}, "label_smoothing"),
        ({"cutout": -1}, "cutout"),
    ],
)
def test_out_of_range_options_are_refused(options: dict, field: str) -> None:
    with pytest.raises(ConfigError) as refused:
        TrainConfig(**options)
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dataset": "digits", "model": "cnn", "cutout": 9}, "larger than the 8x8 images"),
        ({"dataset": "iris", "cutout": 2}, "needs images"),
    ],
)
def test_cutout_that_cannot_apply_to_the_data_is_refused(options: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        Trial(TrainConfig(**options, device="cpu"))
    assert refused.value.field == "cutout"


# CutMix, and timm's mix_prob and switch_prob


@pytest.mark.parametrize("seed", range(6))
def test_cutmix_equals_torchvisions_v2_cutmix_for_the_same_box_and_lambda(seed: int) -> None:
    from torchvision.transforms import v2

    x, y = torch.rand(8, 3, 20, 14), torch.randint(10, (8,))
    torch.manual_seed(seed)
    theirs_x, theirs_targets = v2.CutMix(alpha=1.0, num_classes=10)(x, y)
    torch.manual_seed(
        seed
    )  # the same draws, in torchvision's order: lambda, then the centre's column and row
    lam = float(torch.distributions.Beta(torch.tensor([1.0]), torch.tensor([1.0])).sample(()))
    col, row = torch.randint(14, size=(1,)), torch.randint(20, size=(1,))
    inside, kept = cutmix_boxes((20, 14), torch.tensor([lam]), row, col)
    partner = torch.arange(8).roll(1)  # torchvision pairs each image with the one before it
    ours_x = torch.where(inside[:, None], x[partner], x)
    one_hot = F.one_hot(y, 10).float()
    ours_targets = kept[:, None] * one_hot + (1 - kept[:, None]) * one_hot[partner]
    assert torch.equal(ours_x, theirs_x)
    assert torch.allclose(ours_targets, theirs_targets, rtol=0, atol=1e-6)


def method(config: TrainConfig, classes: int = 5, layers: list[torch.nn.Module] | None = None) -> Mixer:
    """A trial's method and draws outside a trial (seed 3's draws unless given another)."""
    context = MixContext(num_classes=classes, device=torch.device("cpu"), train_size=0, layers=layers or [])
    return Mixer(build_mix_method(config, context), Draws(3), config.mix_prob, 0)


@pytest.mark.parametrize("lambda_per", ["batch", "sample"])
def test_a_cutmix_batch_pastes_boxes_and_weights_labels_by_their_area(lambda_per: str) -> None:
    mixer = method(TrainConfig(alpha=1.0, lambda_per=lambda_per, mix_method="cutmix"))
    x, y = torch.rand(16, 3, 12, 12) + 1, torch.randint(5, (16,))
    batch = mixer.batch(x, y)
    replay = MixupSampler(1.0, lambda_per, seed=3)  # the same seed: the same lambdas, centres and partners
    count = 16 if lambda_per == "sample" else 1
    lam = torch.from_numpy(replay.lambda_rng.beta(1.0, 1.0, size=count).astype(np.float32))
    rows, cols = (torch.randint(12, (count,), generator=replay.perm_gen) for _ in range(2))
    partner = torch.randperm(16, generator=replay.perm_gen)
    inside, kept = cutmix_boxes((12, 12), lam, rows, cols)
    assert torch.equal(batch.inputs, torch.where(inside[:, None], x[partner], x))
    from_partner = (batch.inputs == x[partner]).all(1).float().mean((1, 2))  # each image's share swapped
    assert torch.allclose(from_partner, (1 - kept).expand(16), atol=1e-6)
    logits = torch.randn(16, 5)
    targets = kept.expand(16)[:, None] * F.one_hot(y, 5) + (1 - kept.expand(16))[:, None] * F.one_hot(
        y[partner], 5
    )
    assert torch.allclose(batch.target_distribution(5), targets.float(), atol=1e-6)
    oracle = F.cross_entropy(logits, targets.float(), label_smoothing=0.1)
    assert torch.allclose(batch_loss(batch, logits, 0.1), oracle, rtol=0, atol=1e-6)


def test_alpha_zero_is_exact_erm_and_mix_prob_zero_trains_as_erm_for_every_method() -> None:
    base = dict(dataset="digits", model="cnn", epochs=2, batch_size=128, device="cpu", seed=2)
    erm = train(TrainConfig(**base)).history
    assert train(TrainConfig(**base, mix_method="cutmix")).history == erm
    assert train(TrainConfig(**base, alpha=1.0, mix_method="cutmix", mix_prob=0.0)).history == erm
    assert train(TrainConfig(**base, alpha=1.0, mix_prob=0.0)).history == erm
    assert (
        train(TrainConfig(**base, alpha=1.0, mix_method="cutmix")).final["train_loss"]
        != erm[-1]["train_loss"]
    )


def test_mix_prob_and_switch_prob_choose_batches_at_their_rates() -> None:
    mixer = method(TrainConfig(alpha=1.0, mix_prob=0.7, mix_switch_prob=0.25))
    x, y = torch.arange(16.0)[:, None, None, None].expand(16, 1, 4, 4), torch.arange(16) % 5
    # unmixed: one label; CutMix pastes pixels, whole numbers here; mixup blends them into fractions
    kinds = []
    for _ in range(4000):
        batch = mixer.batch(x, y)
        whole = torch.equal(batch.inputs, batch.inputs.round())
        kinds.append("none" if len(batch.labels) == 1 else "cutmix" if whole else "mixup")
    unmixed, cutmix = kinds.count("none") / 4000, kinds.count("cutmix") / 4000
    assert abs(unmixed - 0.3) < 0.03 and abs(cutmix - 0.7 * 0.25) < 0.03, (unmixed, cutmix)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"mix_method": "mixupp"}, "mix_method"),
        ({"mix_prob": 1.5}, "mix_prob"),
        ({"mix_switch_prob": -0.1}, "mix_switch_prob"),
        ({"mix_method": "cutmix", "mix_switch_prob": 0.5}, "mix_switch_prob"),
        ({"alpha": 1.0, "mix_method": "cutmix", "mix_k": 3}, "mix_k"),
        ({"alpha": 1.0, "mix_switch_prob": 0.5, "mix_pairing": "same_label"}, "mix_pairing"),
    ],
)
def test_bad_mixing_options_are_refused(options: dict, field: str) -> None:
    with pytest.raises(ConfigError) as refused:
        TrainConfig(**options)
    assert refused.value.field == field


def test_cutmix_on_features_is_refused() -> None:
    with pytest.raises(ConfigError, match="cutmix needs images; this dataset's examples are 4 features"):
        Trial(TrainConfig(dataset="iris", alpha=1.0, mix_method="cutmix", device="cpu"))


# Manifold Mixup


def _split_forward(name: str, model: torch.nn.Module, x: torch.Tensor, k: int, mix) -> torch.Tensor:
    """Each model's forward written out by hand, mixing after its k-th eligible layer: Verma et al.'s
    f(mix(g_k(x)))."""
    part = lambda modules: torch.nn.Sequential(*modules)  # slicing MLP or FastCifarNet would rebuild them
    if name == "mlp":
        cut = [i for i, m in enumerate(model) if isinstance(m, torch.nn.ReLU)][k - 1] + 1
        return part(list(model)[cut:])(mix(part(list(model)[:cut])(x)))
    if name == "cnn":
        cut = (4, 8)[k - 1]
        return model.head(model.features[cut:](mix(model.features[:cut](x))))
    if name == "preact_resnet18":
        cut = (2, 4)[k - 1]
        out = model.layers[cut:](mix(model.layers[:cut](model.conv1(x))))
        return model.linear(F.relu(model.bn(out)).mean((2, 3)))
    if name == "fast_cifar":
        cut = (3, 4)[k - 1]
        return part(list(model)[cut:])(mix(part(list(model)[:cut])(x))) / 9
    cut = (1 + model.blocks, 1 + 2 * model.blocks)[k - 1]  # wrn: the stem conv, then the groups' blocks
    return model.head(model.features[cut:](mix(model.features[:cut](x))))


@pytest.mark.parametrize("name", ["mlp", "cnn", "preact_resnet18", "fast_cifar", "wrn"])
@pytest.mark.parametrize("layer", [1, 2])
def test_manifold_mixup_mixes_the_hidden_state_a_hand_written_forward_mixes(name: str, layer: int) -> None:
    from trainables.models import build_model, manifold_layers
    from trainables.models.cifar import WideResNet

    torch.manual_seed(0)
    shape = (1, 8, 8) if name in ("mlp", "cnn") else (3, 32, 32)
    model = WideResNet(3, 10, depth=10, widen=1) if name == "wrn" else build_model(name, shape, 10, (16, 16))
    x, weight = torch.randn(6, *shape), 0.3
    perm = torch.tensor([3, 0, 5, 1, 2, 4])
    hooked = manifold_layers(model, name)[layer - 1]
    handle = hooked.register_forward_hook(lambda module, inputs, h: torch.lerp(h[perm], h, weight))
    try:
        ours = model(x)
    finally:
        handle.remove()
    assert torch.allclose(
        ours, _split_forward(name, model, x, layer, lambda h: torch.lerp(h[perm], h, weight)), atol=1e-5
    )
    assert not torch.allclose(ours, model(x), atol=1e-4), "the mix changed the output"


def test_manifold_batches_draw_the_input_or_each_layer_alike_and_hook_one_forward_only() -> None:
    layers = [torch.nn.Identity(), torch.nn.Identity()]
    mixer = method(TrainConfig(alpha=1.0, mix_method="manifold_mixup"), classes=3, layers=layers)
    x, y = torch.randn(8, 4), torch.randint(3, (8,))
    chosen = []
    for _ in range(900):
        batch = mixer.batch(x, y)
        at = [
            i + 1 for i, layer in enumerate(layers) if batch.hidden is not None and batch.hidden[0] is layer
        ]
        assert len(at) <= 1 and (at or not torch.equal(batch.inputs, x)), (
            "one place mixes: a layer, or the input"
        )
        chosen.append(at[0] if at else 0)
        with mixing_hidden(batch):
            outputs = [layer(x) for layer in layers]  # a forward pass: the chosen layer mixes, once
            assert [not torch.equal(out, x) for out in outputs] == [k + 1 in at for k in range(2)]
            assert torch.equal(layers[0](x), x) and torch.equal(layers[1](x), x), "one forward only"
        assert not any(layer._forward_hooks for layer in layers)
    assert all(abs(chosen.count(k) / 900 - 1 / 3) < 0.05 for k in range(3)), [
        chosen.count(k) for k in range(3)
    ]


def test_manifold_mixup_trains_and_alpha_zero_is_erm() -> None:
    base = dict(dataset="digits", model="cnn", epochs=2, batch_size=128, device="cpu", seed=1)
    erm = train(TrainConfig(**base)).history
    assert train(TrainConfig(**base, mix_method="manifold_mixup")).history == erm
    manifold = train(TrainConfig(**base, alpha=1.0, mix_method="manifold_mixup")).final
    mixup = train(TrainConfig(**base, alpha=1.0)).final
    assert manifold["train_loss"] != mixup["train_loss"] and manifold["test_error"] < 75, (
        "learns (chance: 90%)"
    )


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"alpha": 1.0, "mix_method": "manifold_mixup", "compile": True}, "compile"),
        ({"alpha": 1.0, "mix_method": "manifold_mixup", "mix_k": 3}, "mix_k"),
    ],
)
def test_manifold_mixup_where_it_cannot_apply_is_refused(options: dict, field: str) -> None:
    with pytest.raises(ConfigError) as refused:
        TrainConfig(**options)
    assert refused.value.field == field


def test_manifold_mixup_on_a_model_that_names_no_layers_is_refused_when_the_trial_builds_it() -> None:
    """No list says which models name layers to mix at: a model says so once built (``manifold_layers``).
    A trial run alone finds out as it starts; a sweep's data check, before any run (tests/mixup_tune/
    test_checks.py)."""
    config = TrainConfig(
        dataset="digits", model="torchvision/resnet18", alpha=1.0, mix_method="manifold_mixup", epochs=1
    )
    with pytest.raises(ConfigError) as refused:
        train(config)
    assert refused.value.field == "mix_method"
    assert "model 'torchvision/resnet18' names no layers for manifold_mixup" in str(refused.value)


def test_each_epoch_reports_the_median_of_the_last_10_epochs_test_error() -> None:
    """OpenMixup's and the mixup authors' single-run statistic, beside the seed statistics."""
    reported: list[dict] = []
    config = TrainConfig(dataset="digits", model="mlp", hidden_sizes=(16,), epochs=12, batch_size=256)
    train(config, on_epoch=lambda metrics, _state: reported.append(metrics))
    errors = [m["test_error"] for m in reported]
    for epoch, metrics in enumerate(reported, start=1):
        recent = sorted(errors[max(0, epoch - 10) : epoch])
        middle = len(recent) // 2
        expected = recent[middle] if len(recent) % 2 else (recent[middle - 1] + recent[middle]) / 2
        assert metrics["test_error_median_last10"] == pytest.approx(expected)
    assert len(set(errors[-10:])) > 1  # the median is over several values
