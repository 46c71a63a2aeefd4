"""mixup itself: alpha = 0 is ERM, lambda ~ Beta(alpha, alpha), partners are a permutation, the loss is the
paper's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import stats

from trainables import MixupSampler, TrainConfig, Trial, mix_inputs, mixup_cross_entropy, train, training_loss
from trainables.mixing import Draws, MixContext, MixedBatch, Mixer, batch_loss, build_mix_method
from trainables.mixup import mix_many, one_lambda_cross_entropy, soft_target_cross_entropy
from trainables.models import MLP


def _model_and_batch(seed: int = 0) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    return MLP(10, (16,), 4), torch.randn(32, 10), torch.randint(0, 4, (32,))


def _grads(model: torch.nn.Module, loss: torch.Tensor) -> list[torch.Tensor]:
    model.zero_grad()
    loss.backward()
    return [p.grad.clone() for p in model.parameters()]


def test_alpha_zero_is_exact_erm() -> None:
    model, x, y = _model_and_batch()
    sampler = MixupSampler(alpha=0.0, lambda_per="batch", seed=0)
    before = sampler.state_dict()
    loss = training_loss(model, x, y, sampler)
    reference = F.cross_entropy(model(x), y)
    assert torch.equal(loss, reference)
    for ours, theirs in zip(
        _grads(model, training_loss(model, x, y, sampler)), _grads(model, F.cross_entropy(model(x), y))
    ):
        assert torch.equal(ours, theirs)
    assert sampler.state_dict()["lambda_rng"] == before["lambda_rng"], "ERM must draw nothing"


def test_mixup_changes_the_loss_when_alpha_positive() -> None:
    model, x, y = _model_and_batch()
    loss = training_loss(model, x, y, MixupSampler(alpha=1.0, lambda_per="batch", seed=0))
    assert not torch.isclose(loss, F.cross_entropy(model(x), y))


@pytest.mark.parametrize("alpha", [0.2, 1.0, 4.0])
@pytest.mark.parametrize("lambda_per", ["batch", "sample"])
def test_lambda_follows_beta_alpha_alpha(alpha: float, lambda_per: str) -> None:
    sampler = MixupSampler(alpha, lambda_per, seed=1)
    if lambda_per == "batch":
        draws = np.concatenate([sampler.sample(8)[0][:1].numpy() for _ in range(3000)])
    else:
        draws = np.concatenate([sampler.sample(100)[0].numpy() for _ in range(30)])
    assert stats.kstest(draws, stats.beta(alpha, alpha).cdf).pvalue > 1e-3
    assert abs(draws.mean() - 0.5) < 0.03


def test_one_lambda_per_batch_or_per_sample() -> None:
    lam_batch, _ = MixupSampler(1.0, "batch", seed=0).sample(16)
    lam_sample, _ = MixupSampler(1.0, "sample", seed=0).sample(16)
    assert lam_batch.unique().numel() == 1
    assert lam_sample.unique().numel() == 16


def test_partners_are_a_seeded_permutation_of_the_batch() -> None:
    perms = [MixupSampler(1.0, "batch", seed=s).sample(64)[1] for s in (3, 3, 4)]
    assert torch.equal(perms[0].sort().values, torch.arange(64))
    assert torch.equal(perms[0], perms[1])
    assert not torch.equal(perms[0], perms[2])


def test_sampler_state_round_trip_replays_the_same_draws() -> None:
    sampler = MixupSampler(0.5, "sample", seed=7)
    sampler.sample(10)
    state = sampler.state_dict()
    first = sampler.sample(10)
    sampler.load_state_dict(state)
    second = sampler.sample(10)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_mixed_inputs_and_loss_follow_the_paper() -> None:
    x, y = torch.randn(6, 3), torch.tensor([0, 1, 2, 0, 1, 2])
    lam, perm = torch.full((6,), 0.3), torch.tensor([5, 4, 3, 2, 1, 0])
    assert torch.allclose(mix_inputs(x, lam, perm), 0.3 * x + 0.7 * x[perm])
    logits = torch.randn(6, 3)
    expected = 0.3 * F.cross_entropy(logits, y) + 0.7 * F.cross_entropy(logits, y[perm])
    weights = torch.stack([lam, 1 - lam], dim=1)
    assert torch.allclose(mixup_cross_entropy(logits, [y, y[perm]], weights), expected)
    soft = 0.3 * F.one_hot(y, 3) + 0.7 * F.one_hot(y[perm], 3)
    assert torch.allclose(
        mixup_cross_entropy(logits, [y, y[perm]], weights), F.cross_entropy(logits, soft.float())
    )


@pytest.mark.parametrize("classes", [2, 10, 1000])
def test_the_fast_forms_of_the_loss_equal_its_definition(classes: int) -> None:
    """One lambda per batch as a number, and soft targets built once per epoch: each is mixup_cross_entropy's
    value and gradient."""
    generator = torch.Generator().manual_seed(classes)
    logits = torch.randn(64, classes, generator=generator, requires_grad=True)
    y, partner = (torch.randint(0, classes, (64,), generator=generator) for _ in range(2))
    for weight in (0.0, 0.17, 0.5, 0.93, 1.0):
        weights = torch.tensor([weight, 1 - weight]).expand(64, 2)
        definition = mixup_cross_entropy(logits, [y, partner], weights)
        soft = weights[:, :1] * F.one_hot(y, classes) + weights[:, 1:] * F.one_hot(partner, classes)
        for fast in (
            one_lambda_cross_entropy(logits, y, partner, weight),
            soft_target_cross_entropy(logits, soft),
        ):
            assert torch.allclose(fast, definition, rtol=1e-6, atol=1e-6)
            (grad_fast,), (grad_definition,) = (
                torch.autograd.grad(fast, logits),
                torch.autograd.grad(definition, logits, retain_graph=True),
            )
            assert torch.allclose(grad_fast, grad_definition, rtol=1e-5, atol=1e-7)


def _mixup(alpha: float, lambda_per: str, seed: int, **options: object) -> Mixer:
    """The mixup method of a trial of these options, outside a trial, with draws seeded by ``seed``."""
    config = TrainConfig(alpha=alpha, lambda_per=lambda_per, **options)  # type: ignore[arg-type]
    context = MixContext(num_classes=10, device=torch.device("cpu"), train_size=0)
    return Mixer(build_mix_method(config, context), Draws(seed), config.mix_prob, 0)


@pytest.mark.parametrize("lambda_per", ["batch", "sample"])
def test_a_mixed_batch_is_scored_by_the_definition(lambda_per: str) -> None:
    """The mixup method's batch: its inputs are the paper's x~, and its loss (a fast form per batch) the
    definition's."""
    model, x, y = _model_and_batch(5)
    batch = _mixup(0.4, lambda_per, seed=3).batch(x, y)
    lam, perm = MixupSampler(0.4, lambda_per, seed=3).sample(len(x))
    assert torch.allclose(batch.inputs, mix_inputs(x, lam, perm))
    logits = model(batch.inputs)
    assert torch.allclose(
        batch_loss(batch, logits),
        mixup_cross_entropy(logits, [y, y[perm]], torch.stack([lam, 1 - lam], dim=1)),
        rtol=1e-6,
        atol=1e-7,
    )
    assert not _mixup(0.0, lambda_per, seed=3).active, "alpha 0: the trial trains as ERM and draws nothing"
    erm = MixedBatch.unmixed(x, y)
    assert torch.equal(batch_loss(erm, logits), F.cross_entropy(logits, y))


def test_per_sample_lambda_weights_each_pair() -> None:
    x = torch.randn(4, 2, 5, 5)
    lam, perm = torch.tensor([0.0, 0.25, 0.5, 1.0]), torch.tensor([1, 2, 3, 0])
    mixed = mix_inputs(x, lam, perm)
    for i in range(4):
        assert torch.allclose(mixed[i], lam[i] * x[i] + (1 - lam[i]) * x[perm[i]])


def test_the_per_batch_fast_path_draws_and_computes_what_the_general_one_does() -> None:
    general, fast = MixupSampler(0.4, "batch", seed=7), MixupSampler(0.4, "batch", seed=7)
    for _ in range(50):
        lam, perm = general.sample(32)
        weight, fast_perm = fast.sample_one(32)
        assert weight == float(lam[0]) and torch.equal(perm, fast_perm)

    torch.manual_seed(0)
    model = torch.nn.Linear(6, 4)
    x, y = torch.randn(32, 6), torch.randint(0, 4, (32,))
    lam, perm = MixupSampler(0.4, "batch", seed=3).sample(32)
    expected = mixup_cross_entropy(
        model(mix_inputs(x, lam, perm)), [y, y[perm]], torch.stack([lam, 1 - lam], dim=1)
    )
    assert torch.allclose(
        training_loss(model, x, y, MixupSampler(0.4, "batch", seed=3)), expected, rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("lambda_per", ["batch", "sample"])
def test_a_premixed_epoch_equals_mixing_batch_by_batch(
    lambda_per: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Mixing the whole epoch at once (no augmentation) uses the same draws and gives the same training, to
    rounding."""
    from trainables.tasks import classify

    config = TrainConfig(
        dataset="digits",
        model="mlp",
        alpha=0.7,
        lambda_per=lambda_per,
        batch_size=50,
        epochs=2,
        seed=5,
        device="cpu",
    )
    premixed = Trial(config)
    assert premixed._premixes()
    premixed_losses = [premixed.train_epoch() for _ in range(2)]
    monkeypatch.setattr(classify, "PREMIX_MAX_ELEMENTS", 0)  # too big to premix: batch by batch
    by_batch = Trial(config)
    assert not by_batch._premixes()
    batch_losses = [by_batch.train_epoch() for _ in range(2)]
    assert premixed_losses == pytest.approx(batch_losses, rel=1e-5)
    for a, b in zip(premixed.model.parameters(), by_batch.model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-5)
    # the same draws, consumed alike
    assert premixed.draws.state_dict()["perm_gen"].equal(by_batch.draws.state_dict()["perm_gen"])


# Section 2's alternatives: k-way Dirichlet weights, a second loader, equal-label partners.


@pytest.mark.parametrize(("k", "lambda_per"), [(2, "batch"), (3, "sample"), (5, "batch")])
def test_k_way_weights_are_dirichlet_rows_summing_to_one(k: int, lambda_per: str) -> None:
    sampler = MixupSampler(0.5, lambda_per, seed=1, k=k)
    weights = torch.cat([sampler.weights(64) for _ in range(200)])
    assert weights.shape == (64 * 200, k) and (weights >= 0).all()
    assert torch.allclose(weights.sum(1), torch.ones(len(weights)))
    # symmetric Dirichlet: each weight 1/k on average
    assert torch.allclose(weights.mean(0), torch.full((k,), 1 / k), atol=0.03)
    batch = sampler.weights(64)
    assert (batch == batch[0]).all() == (lambda_per == "batch")
    # Dirichlet(a, ..., a)'s first weight is Beta(a, (k - 1) a)
    assert (
        stats.kstest(
            weights[:: 64 if lambda_per == "batch" else 1, 0].numpy(), stats.beta(0.5, 0.5 * (k - 1)).cdf
        ).pvalue
        > 1e-3
    )


def test_two_way_weights_take_the_papers_beta_draws() -> None:
    lam, _ = MixupSampler(0.4, "sample", seed=9).sample(32)
    weights = MixupSampler(0.4, "sample", seed=9).weights(32)
    assert torch.equal(weights[:, 0], lam) and torch.equal(weights[:, 1], 1 - lam)


def test_same_label_partners_are_a_permutation_within_each_label() -> None:
    sampler = MixupSampler(1.0, "batch", seed=2)
    y = torch.randint(0, 5, (200,), generator=torch.Generator().manual_seed(0))
    perm = sampler.same_label_permutation(y)
    assert torch.equal(torch.sort(perm).values, torch.arange(200)) and torch.equal(y[perm], y)
    assert (perm != torch.arange(200)).float().mean() > 0.5  # a shuffle, not the identity
    alone = torch.tensor([0, 1, 1, 2])
    # an example alone in its label mixes with itself
    assert sampler.same_label_permutation(alone)[[0, 3]].tolist() == [
        0,
        3,
    ]


def test_the_general_k_way_path_at_k_2_equals_the_papers_path() -> None:
    """mix_many and mixup_cross_entropy, given the paper's draws, compute the paper's loss and gradients."""
    model, x, y = _model_and_batch(3)
    lam, perm = MixupSampler(0.7, "sample", seed=4).sample(32)
    logits = model(mix_inputs(x, lam, perm))
    papers = lam * F.cross_entropy(logits, y, reduction="none") + (1 - lam) * F.cross_entropy(
        logits, y[perm], reduction="none"
    )
    expected = _grads(model, papers.mean())
    weights = torch.stack([lam, 1 - lam], dim=1)
    general = _grads(
        model, mixup_cross_entropy(model(mix_many([x, x[perm]], weights)), [y, y[perm]], weights)
    )
    for a, b in zip(expected, general, strict=True):
        assert torch.allclose(a, b, atol=1e-6)


@pytest.mark.parametrize(
    "variant",
    [
        {"mix_k": 3},
        {"mix_pairing": "two_loaders"},
        {"mix_pairing": "same_label"},
        {"mix_k": 3, "mix_pairing": "two_loaders"},
    ],
)
def test_each_variant_trains_reproducibly_and_is_not_the_default(variant: dict) -> None:
    options = dict(dataset="digits", model="mlp", alpha=1.0, batch_size=64, epochs=2, seed=0, device="cpu")
    runs = [train(TrainConfig(**options, **variant)).history for _ in range(2)]
    assert runs[0] == runs[1], "the same seed gives the same trial"
    assert runs[0][-1]["test_error"] < 20
    assert [h["train_loss"] for h in runs[0]] != [
        h["train_loss"] for h in train(TrainConfig(**options)).history
    ]


def test_same_label_mixing_keeps_every_target_one_hot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Partners of equal label make the mixed target the label itself: the loss is CE on mixed inputs, no soft
    target."""
    import trainables.mixing.mixup as mixup_module

    trial = Trial(
        TrainConfig(
            dataset="digits",
            model="mlp",
            alpha=1.0,
            mix_pairing="same_label",
            batch_size=64,
            seed=0,
            device="cpu",
        )
    )
    seen = []
    original = mixup_module.same_label_permutation
    monkeypatch.setattr(
        mixup_module,
        "same_label_permutation",
        lambda draws, y: seen.append((y, original(draws, y))) or seen[-1][1],
    )
    order = torch.arange(len(trial.y_train))
    for idx in (order[:64], order[64:128]):
        batch = trial.mixer.batch(trial.x_train[idx].float(), trial.y_train[idx])
        targets = batch.target_distribution(10)
        assert torch.equal(targets, F.one_hot(trial.y_train[idx], 10).float()), "every target its own label"
    assert len(seen) == 2 and all(torch.equal(y[perm], y) for y, perm in seen)
