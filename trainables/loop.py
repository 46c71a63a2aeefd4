"""The training loop: one readable function, ``train``.

It knows nothing of Ray or MLflow. After every epoch it calls ``on_epoch(metrics,
checkpoint)``: ``metrics`` are the epoch's numbers (errors in percent, as the
paper reports them) and ``checkpoint()`` returns the full state, which resumes
the trial bit for bit when passed back as ``resume_state``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .adversarial import attack_errors, craft
from .augment import crop_and_flip
from .config import TrainConfig, flatten
from .corruption import SHARED_NOISE_SEED, corrupt_labels, corrupt_labels_bernoulli
from .data import SPLIT_SEED, STREAMED, Splits, load_data
from .device import autocast_dtype, configure_determinism, resolve_device
from .mixup import MixupSampler, mix_many, mixed_cross_entropy, training_loss
from .models import build_model
from .normalise import Normalisation, as_unit_range
from .schedule import Schedule, iterations_per_epoch

Metrics = dict[str, float]
OnEpoch = Callable[[Metrics, Callable[[], dict[str, Any]]], None]
CHECKPOINT_FORMAT = 1
EVAL_BATCH = 1024  # examples per forward pass when measuring errors
PREMIX_MAX_ELEMENTS = 2**26  # floats (256 MB): above this an epoch is mixed batch by batch


@dataclass
class TrainResult:
    history: list[Metrics] = field(default_factory=list)
    diverged: bool = False

    @property
    def final(self) -> Metrics:
        return self.history[-1] if self.history else {}


class Trial:
    """Everything one trial holds: data on the device, model, optimiser, schedule and every RNG."""

    def __init__(self, config: TrainConfig, splits: Splits | None = None) -> None:
        self.config = config
        self.device = resolve_device(config.device)
        configure_determinism(config.deterministic, self.device)
        splits = splits or load_data(config.dataset, config.data_root, config.data_path, config.train_subset, config.val_fraction, config.download)
        self.num_classes = splits.num_classes
        self.augment = config.augment if config.augment is not None else (splits.is_image and splits.input_shape[0] == 3 and splits.input_shape[1] == 32)
        self._seed_generators()
        self._corrupt_labels(splits.y_train)
        to_device = lambda t: None if t is None else t.to(self.device)  # noqa: E731
        self.x_train, self.x_test, self.x_val = to_device(splits.x_train), to_device(splits.x_test), to_device(splits.x_val)
        self.y_train_true, self.y_test, self.y_val = to_device(splits.y_train), to_device(splits.y_test), to_device(splits.y_val)
        self.normalisation = Normalisation.fit(self.x_train)
        self._build_model(splits.input_shape, splits.is_image)

    def input_description(self) -> dict[str, str]:
        """What the model was fed, reported with the first epoch (MLflow tags): the example shape, the normalisation
        and, with label noise, the corruption protocol."""
        described = {"input_shape": "x".join(map(str, self.x_train.shape[1:])), "normalisation": self.normalisation.describe()}
        return {**described, **self.noise_description()}

    def noise_description(self) -> dict[str, str]:
        return {"label_noise_protocol": self.config.label_noise_protocol} if self.config.label_noise > 0 else {}

    def _seed_generators(self) -> None:
        """Each source of randomness has its own generator, so that changing
        alpha does not change the shuffling, and so that each can be checkpointed."""
        torch.manual_seed(self.config.seed)  # initialisation and dropout use the global generator
        shuffle_seed, augment_seed, mixup_seed = np.random.SeedSequence(self.config.seed).generate_state(3)
        self.shuffle_gen = torch.Generator().manual_seed(int(shuffle_seed))
        self.augment_gen = torch.Generator().manual_seed(int(augment_seed))
        self.mixup = MixupSampler(self.config.alpha, self.config.lambda_per, int(mixup_seed), k=self.config.mix_k)

    def _corrupt_labels(self, labels: Tensor) -> None:
        """The training labels the trial learns (``label_noise`` of them redrawn), and which were redrawn."""
        config = self.config
        if config.label_noise_protocol == "bernoulli":
            corrupted = corrupt_labels_bernoulli(labels, config.label_noise, self.num_classes, SHARED_NOISE_SEED if config.noise_seed is None else config.noise_seed)
        else:
            corrupted = corrupt_labels(labels, config.label_noise, self.num_classes, config.seed if config.noise_seed is None else config.noise_seed)
        self.labels_changed_pct = 100.0 * corrupted.changed_fraction
        self.y_train = corrupted.labels.to(self.device)
        self.selected = corrupted.selected.to(self.device)

    def _build_model(self, input_shape: tuple[int, ...], is_image: bool) -> None:
        config = self.config
        self.model = build_model(config.model, input_shape, self.num_classes, config.hidden_sizes, config.dropout).to(self.device)
        self.autocast_dtype = autocast_dtype(config.precision, self.device)
        self.channels_last = config.channels_last and is_image
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        # fp16 needs its gradients scaled (bf16 has fp32's range and does not); a no-op otherwise.
        self.grad_scaler = torch.amp.GradScaler(self.device.type, enabled=self.autocast_dtype == torch.float16)
        # Compiled for training only: evaluation's varying batch sizes would recompile it. Same parameters.
        self.train_forward: nn.Module = torch.compile(self.model) if config.compile else self.model  # type: ignore[assignment]
        self.optimizer = _optimizer(config, self.model)
        self.scheduler = Schedule(config, self.optimizer, iterations_per_epoch(len(self.y_train), config.batch_size))
        self.epoch = 0
        self.history: list[Metrics] = []

    def inputs(self, x: Tensor) -> Tensor:
        """Raw stored examples (uint8 images or float features) to normalised float inputs."""
        return self.normalised(as_unit_range(x))

    def normalised(self, x: Tensor) -> Tensor:
        x = self.normalisation(x)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def autocast(self) -> torch.autocast:
        """Mixed precision for training's forward passes (a no-op at fp32); losses are taken in fp32 all the same."""
        return torch.autocast(self.device.type, dtype=self.autocast_dtype or torch.float32, enabled=self.autocast_dtype is not None)

    def forward_unit_range(self, x: Tensor) -> Tensor:
        """The model in eval mode on inputs in [0, 1]: what the attacks differentiate."""
        self.model.eval()
        return self.model(self.normalised(x))

    def attack_subset(self) -> tuple[Tensor, Tensor]:
        """A fixed test subset (the same for every trial of a dataset), in [0, 1], with its true labels."""
        count = min(self.config.adversarial_examples, len(self.y_test))
        chosen = torch.randperm(len(self.y_test), generator=torch.Generator().manual_seed(SPLIT_SEED))[:count].to(self.device)
        return as_unit_range(self.x_test[chosen]), self.y_test[chosen]

    def white_box(self) -> Metrics:
        """Each model attacks itself: FGSM and I-FGSM error, top-1 (and top-5 with more than 5 classes)."""
        x, y = self.attack_subset()
        examples = craft(self.forward_unit_range, x, y, self.config.adversarial_epsilon)
        return attack_errors(self.forward_unit_range, examples, y, self.num_classes, prefix="white_box")

    def train_epoch(self, on_step: Callable[[Tensor], None] | None = None) -> float:
        """One pass over the shuffled training set; returns the mean (mixed) training loss.

        ``on_step(loss)``, if given, sees each minibatch's loss after its step
        (tests/test_differential.py compares them with a textbook loop's).
        """
        self.model.train()
        n, batch = len(self.y_train), self.config.batch_size
        order = torch.randperm(n, generator=self.shuffle_gen).to(self.device)
        # A trailing single example is skipped: BatchNorm and pairing need two.
        batches = [idx for idx in (order[start : start + batch] for start in range(0, n, batch)) if len(idx) >= 2]
        warm_up = self.epoch < self.config.mixup_warmup_epochs  # ERM epochs first: no mixup draws are taken
        if warm_up:
            steps = self._batch_steps(batches, mix=False)
        elif self.mixup.mixes and (self.config.mix_k > 2 or self.config.mix_pairing != "shuffle"):
            steps = self._variant_steps(batches)
        elif batches and self._premixes():
            steps = self._premixed_steps(batches)
        else:
            steps = self._batch_steps(batches)
        loss_sum = torch.zeros((), device=self.device)
        seen = 0
        for loss_of, size in steps:
            with self.autocast():
                loss = loss_of(self.train_forward)
            self.optimizer.zero_grad(set_to_none=True)
            self.grad_scaler.scale(loss).backward()
            self.grad_scaler.step(self.optimizer)
            self.grad_scaler.update()
            self.scheduler.step_iteration()
            loss_sum += loss.detach() * size  # stays on the device: no sync per step
            if on_step is not None:
                on_step(loss.detach())
            seen += size
        return float(loss_sum) / max(seen, 1)

    def _batch_steps(self, batches: list[Tensor], mix: bool = True) -> Iterator[tuple[Callable[[nn.Module], Tensor], int]]:
        """Each batch as stored: augmented (crop and flip), then mixed within itself (``training_loss``), or not."""
        for idx in batches:
            x, y = self._batch_inputs(idx), self.y_train[idx]
            if mix:
                yield (lambda model, x=x, y=y: training_loss(model, x, y, self.mixup)), len(idx)
            else:
                yield (lambda model, x=x, y=y: F.cross_entropy(model(x), y)), len(idx)  # as alpha = 0 trains

    def _batch_inputs(self, idx: Tensor) -> Tensor:
        """The stored examples at ``idx``, cropped and flipped when the trial augments, as normalised inputs."""
        x = self.x_train[idx]
        return self.inputs(crop_and_flip(x, self.augment_gen) if self.augment else x)

    def _variant_steps(self, batches: list[Tensor]) -> Iterator[tuple[Callable[[nn.Module], Tensor], int]]:
        """Section 2's alternatives: k examples per mixed input, partners from the batch, a second loader or the same label.

        With a second loader, each partner batch is a slice of its own shuffled
        pass over the training set, augmented on its own; otherwise partners are
        the augmented batch itself, permuted (within each label for ``same_label``).
        """
        k, pairing = self.config.mix_k, self.config.mix_pairing
        orders = [self.mixup.permutation(len(self.y_train)).to(self.device) for _ in range(k - 1)] if pairing == "two_loaders" else []
        start = 0
        for idx in batches:
            size = len(idx)
            if pairing == "two_loaders":
                sources = [idx] + [order[start : start + size] for order in orders]
                xs, ys = [self._batch_inputs(s) for s in sources], [self.y_train[s] for s in sources]
            else:
                x, y = self._batch_inputs(idx), self.y_train[idx]
                draw = (lambda: self.mixup.same_label_permutation(y)) if pairing == "same_label" else (lambda: self.mixup.permutation(size).to(self.device))
                perms = [torch.arange(size, device=self.device)] + [draw() for _ in range(k - 1)]
                xs, ys = [x[p] for p in perms], [y[p] for p in perms]
            weights = self.mixup.weights(size)
            start += size
            yield (lambda model, xs=xs, ys=ys, w=weights: mixed_cross_entropy(model(mix_many(xs, w)), ys, w)), size

    def _premixes(self) -> bool:
        """Mix a whole epoch at once when nothing is drawn per batch after mixing (no augmentation) and it fits.

        On small models, mixup's dozen small operations per batch were a fifth
        of the epoch (benchmarks/mixup_overhead.py); mixed once per epoch, what
        is left per batch is what ERM does: one slice and one cross-entropy.
        """
        size = len(self.y_train) * (math.prod(self.x_train.shape[1:]) + self.num_classes)
        return self.mixup.mixes and not self.augment and size <= PREMIX_MAX_ELEMENTS

    def _premixed_steps(self, batches: list[Tensor]) -> Iterator[tuple[Callable[[nn.Module], Tensor], int]]:
        """The epoch's mixed inputs and soft targets, from the same draws as batch by batch, then sliced per batch.

        Soft-target cross-entropy, -sum(t * log p) with t = w * onehot(y) +
        (1 - w) * onehot(y_partner), is the paper's w * CE(y) + (1 - w) * CE(y_partner).
        """
        sizes = [len(idx) for idx in batches]
        weights, perms = self.mixup.plan(sizes)
        own = torch.cat(batches)
        partner = torch.cat([idx[perm.to(self.device)] for idx, perm in zip(batches, perms)])
        w = weights.to(self.device)
        mixed = torch.lerp(self.inputs(self.x_train[partner]), self.inputs(self.x_train[own]), w.view(-1, *([1] * (self.x_train.dim() - 1))))
        # One-hot sums, not scatter_add_ (no deterministic CUDA kernel); the same values to the bit.
        one_hot = lambda y: F.one_hot(y, self.num_classes).float()  # noqa: E731
        targets = w[:, None] * one_hot(self.y_train[own]) + (1 - w)[:, None] * one_hot(self.y_train[partner])
        start = 0
        for size in sizes:
            x, t = mixed[start : start + size], targets[start : start + size]
            yield (lambda model, x=x, t=t: F.cross_entropy(model(x).float(), t)), size
            start += size

    @torch.inference_mode()
    def predict(self, x: Tensor, top: int = 1) -> Tensor:
        """The class indices ranked first (shape (N,)), or the ``top`` first (shape (N, top)).

        Always in fp32, whatever the training precision: errors (and the attacks and
        in-between measures, which go through ``forward_unit_range``) are the paper's
        numbers, and bf16's rounding of near-tied logits would move them.
        """
        self.model.eval()
        ranked = [self.model(self.inputs(x[i : i + EVAL_BATCH])).topk(top, dim=1).indices for i in range(0, len(x), EVAL_BATCH)]
        return torch.cat(ranked)[:, 0] if top == 1 else torch.cat(ranked)

    def evaluate(self) -> Metrics:
        """Errors on unmixed data, in percent (mixed "training accuracy" would mean nothing)."""
        error = lambda wrong: 100.0 * float(wrong.double().mean()) if wrong.numel() else math.nan  # noqa: E731
        if self.num_classes > 5:  # top-5 as well (the paper's ImageNet tables), from the same forward pass
            ranked = self.predict(self.x_test, top=5)
            metrics = {"test_error": error(ranked[:, 0] != self.y_test), "test_error_top5": error((ranked != self.y_test[:, None]).all(1))}
        else:
            metrics = {"test_error": error(self.predict(self.x_test) != self.y_test)}
        train_wrong = self.predict(self.x_train) != self.y_train
        metrics["train_error_real"] = error(train_wrong[~self.selected])
        if self.config.label_noise > 0:  # measured against the corrupted labels, as the paper does
            metrics["train_error_corrupted"] = error(train_wrong[self.selected])
        if self.x_val is not None:
            metrics["val_error"] = error(self.predict(self.x_val) != self.y_val)
        return metrics

    def state_dict(self) -> dict[str, Any]:
        rng = rng_state(self.device, {"shuffle": self.shuffle_gen, "augment": self.augment_gen}, self.mixup)
        return checkpoint(self.config, self.epoch, self.history, rng, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler, grad_scaler=self.grad_scaler)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_checkpoint(state, self.config)
        self.epoch, self.history = state["epoch"], list(state["history"])
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state.get("grad_scaler"):
            self.grad_scaler.load_state_dict(state["grad_scaler"])
        restore_rng(state["rng"], self.device, {"shuffle": self.shuffle_gen, "augment": self.augment_gen}, self.mixup)


def checkpoint(config: TrainConfig, epoch: int, history: list[Metrics], rng: dict[str, Any], **parts: Any) -> dict[str, Any]:
    """A trial's full state: its config, progress and RNGs, and the ``state_dict()`` of each part (model, optimiser, ...)."""
    return {"format": CHECKPOINT_FORMAT, "config": config.to_dict(), "epoch": epoch, "history": list(history), "rng": rng, **{name: part.state_dict() for name, part in parts.items()}}


def check_checkpoint(state: dict[str, Any], config: TrainConfig) -> None:
    """Refuse a checkpoint of another format, or written by a trial computing something else than ``config``."""
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint format {state.get('format')} is not {CHECKPOINT_FORMAT}")
    ignore = {"device", "data_root", "loader_workers"}  # where and how fast a trial runs may change; what it computes may not
    current = {k: v for k, v in flatten(config.to_dict()).items() if k not in ignore}
    # Compared option by option, nested ones too: an option added since the checkpoint was written
    # (mix_k, schedule.warmup_epochs, task, gan.*, ...) had its default then; an option since removed is a mismatch.
    written = flatten(state["config"])
    defaults = flatten(TrainConfig().to_dict())
    saved = {k: written.get(k, defaults[k]) for k in current}
    if saved != current or set(written) - set(current) - ignore:
        raise ValueError("checkpoint was written by a trial with a different config")


def rng_state(device: torch.device, generators: dict[str, torch.Generator], mixup: MixupSampler) -> dict[str, Any]:
    """Every RNG a trial draws from: torch's global one (initialisation, dropout), its own generators, mixup's and CUDA's."""
    rng: dict[str, Any] = {"torch": torch.get_rng_state(), **{name: gen.get_state() for name, gen in generators.items()}, "mixup": mixup.state_dict()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    return rng


def restore_rng(rng: dict[str, Any], device: torch.device, generators: dict[str, torch.Generator], mixup: MixupSampler) -> None:
    torch.set_rng_state(rng["torch"])
    for name, gen in generators.items():
        gen.set_state(rng[name])
    mixup.load_state_dict(rng["mixup"])
    if "cuda" in rng and device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"], device)


def train(config: TrainConfig, on_epoch: OnEpoch | None = None, resume_state: dict[str, Any] | None = None, splits: Splits | None = None) -> TrainResult:
    """Train one trial for ``config.epochs`` epochs, or on from ``resume_state``.

    Stops early, with ``diverged`` set, when the training loss is NaN or
    infinite: a diverged config would only diverge again. A ``task: gan``
    config trains Section 3.7's toy GAN instead (``trainables.gan``).
    """
    if config.task == "gan":
        from .gan import train_gan  # it builds on this module

        return train_gan(config, on_epoch, resume_state)
    if config.dataset in STREAMED:
        from .streaming import StreamingTrial  # it builds on this module

        trial: Trial = StreamingTrial(config)
    else:
        trial = Trial(config, splits)
    if resume_state is not None:
        trial.load_state_dict(resume_state)
    best = min((m["test_error"] for m in trial.history), default=math.inf)
    while trial.epoch < config.epochs:
        lr = trial.optimizer.param_groups[0]["lr"]
        train_loss = trial.train_epoch()
        trial.scheduler.step()
        trial.epoch += 1
        diverged = not math.isfinite(train_loss)
        metrics: Metrics = {"epoch": trial.epoch, "train_loss": train_loss, "lr": lr, **trial.evaluate()}
        best = min(best, metrics["test_error"])
        metrics.update(best_test_error=best, labels_changed=trial.labels_changed_pct, diverged=float(diverged))
        if trial.epoch == 1:
            metrics.update(trial.input_description())  # type: ignore[arg-type]  (two strings, once)
        if config.adversarial and trial.epoch == config.epochs and not diverged:
            metrics.update(trial.white_box())
        trial.history.append(metrics)
        if on_epoch is not None:
            on_epoch(metrics, trial.state_dict)
        if diverged:
            return TrainResult(trial.history, diverged=True)
    return TrainResult(trial.history)


def _optimizer(config: TrainConfig, model: nn.Module, fused: bool | None = None) -> torch.optim.Optimizer:
    opt = config.optimizer
    if opt.name == "adam":
        return torch.optim.Adam(model.parameters(), lr=opt.lr, betas=opt.betas, weight_decay=opt.weight_decay, fused=fused)
    return torch.optim.SGD(model.parameters(), lr=opt.lr, momentum=opt.momentum, weight_decay=opt.weight_decay, nesterov=opt.nesterov and opt.momentum > 0, fused=fused)


__all__ = ["Metrics", "OnEpoch", "TrainResult", "Trial", "resolve_device", "train"]
