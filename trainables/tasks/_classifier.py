"""What in-memory and streamed classifier trials share: their RNGs, labels, model and optimiser, the training
step and
the epoch loop.

A subclass supplies its data: ``minibatches()``, the epoch's (inputs, loss of the logits) pairs, and
``evaluate()``.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..augment import check_image_options, cutout
from ..calibration import Reliability
from ..config import TrainConfig
from ..corruption import SHARED_NOISE_SEED, corrupt_labels, corrupt_labels_bernoulli
from ..device import autocast_dtype, configure_determinism, resolve_device
from ..errors import ConfigError, first_line
from ..mixing import (
    Draws,
    MixContext,
    MixedBatch,
    Mixer,
    batch_loss,
    build_mix_method,
    method_class,
    mixing_hidden,
)
from ..models import build_model, forward_problem, is_ecosystem_name, manifold_layers
from ..normalise import Normalisation, as_unit_range
from ..schedule import Schedule, iterations_per_epoch
from ._common import (
    Metrics,
    OnEpoch,
    TrainResult,
    build_optimizer,
    check_checkpoint,
    checkpoint,
    restore_rng,
    rng_state,
)

MEDIAN_EPOCHS = 10  # ``test_error_median_last10``: the median of the last this many epochs' test error


class ClassifierTrial:
    """Everything one classifier trial holds but its data: model, optimiser, schedule, labels and every
    RNG."""

    normalisation: Normalisation  # set by the subclass, from its data
    mixer: Mixer  # built by the subclass after its normalisation, which a method may need (AugMix)
    examples_in_memory = False  # whether ``mix_examples`` can fetch any training example by index

    def __init__(
        self,
        config: TrainConfig,
        labels: Tensor,
        num_classes: int,
        input_shape: tuple[int, ...],
        is_image: bool,
    ) -> None:
        check_image_options(config, input_shape, is_image)
        self.config = config
        self.device = resolve_device(config.device)
        configure_determinism(config.deterministic, self.device)
        self.num_classes = num_classes
        self._seed_generators()
        self._corrupt_labels(labels)
        self.y_train_true = labels.to(self.device)
        self._build_model(input_shape, is_image)

    def _seed_generators(self) -> None:
        """Each source of randomness has its own generator, so that changing
        alpha does not change the shuffling, and so that each can be checkpointed."""
        torch.manual_seed(self.config.seed)  # initialisation and dropout use the global generator
        shuffle_seed, augment_seed, mixup_seed = np.random.SeedSequence(self.config.seed).generate_state(3)
        self.shuffle_gen = torch.Generator().manual_seed(int(shuffle_seed))
        self.augment_gen = torch.Generator().manual_seed(int(augment_seed))
        # what the mixing method draws from, whichever it is: the same partners for the same seed
        self.draws = Draws(int(mixup_seed))

    def _corrupt_labels(self, labels: Tensor) -> None:
        """The training labels the trial learns (``label_noise`` of them redrawn), and which were redrawn."""
        config = self.config
        if config.label_noise_protocol == "bernoulli":
            seed = SHARED_NOISE_SEED if config.noise_seed is None else config.noise_seed
            corrupted = corrupt_labels_bernoulli(labels, config.label_noise, self.num_classes, seed)
        else:
            seed = config.seed if config.noise_seed is None else config.noise_seed
            corrupted = corrupt_labels(labels, config.label_noise, self.num_classes, seed)
        self.noise_seed = seed  # reported with the dataset (lineage): which labels were redrawn
        self.labels_changed_pct = 100.0 * corrupted.changed_fraction
        self.y_train = corrupted.labels.to(self.device)
        self.selected = corrupted.selected.to(self.device)

    def _build_model(self, input_shape: tuple[int, ...], is_image: bool) -> None:
        config = self.config
        try:
            model = build_model(
                config.model,
                input_shape,
                self.num_classes,
                config.hidden_sizes,
                config.dropout,
                config.model_options,
            )
        except (TypeError, ValueError) as error:  # a torchvision/timm/import-string model's options or input
            raise ConfigError("model", f"{config.model}: {first_line(error)}") from None
        if is_ecosystem_name(config.model):  # a model from elsewhere says at once if it cannot take the data
            problem = forward_problem(model, input_shape, config.model)
            if problem:
                raise ConfigError("model", problem)
        self.model = model.to(self.device)
        self.autocast_dtype = autocast_dtype(config.precision, self.device)
        self.channels_last = config.channels_last and is_image
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        # fp16 needs its gradients scaled (bf16 has fp32's range and does not); a no-op otherwise.
        self.grad_scaler = torch.amp.GradScaler(
            self.device.type, enabled=self.autocast_dtype == torch.float16
        )
        # Compiled for training only: evaluation's varying batch sizes would recompile it. Same parameters.
        self.train_forward: nn.Module = torch.compile(self.model) if config.compile else self.model  # type: ignore[assignment]
        self.optimizer = build_optimizer(config, self.model)
        self.scheduler = Schedule(
            config, self.optimizer, iterations_per_epoch(len(self.y_train), config.batch_size)
        )
        self.epoch = 0
        self.history: list[Metrics] = []
        self.reliability: Reliability | None = None  # the last evaluation's confidence bins

    def _build_mixer(self) -> Mixer:
        """The trial's mixing method (``config.mix_method_name``) with what it needs: the layers it may mix
        at (Manifold Mixup's), the model, and training examples by index where the data is in memory."""
        config, cls = self.config, method_class(self.config)
        mixes = cls.mixes_in(config)
        try:
            layers = (
                manifold_layers(self.model, config.model)
                if mixes and "hidden_states" in cls.requirements(config)
                else []
            )
        except ValueError as error:
            raise ConfigError("mix_method", str(error)) from None
        context = MixContext(
            num_classes=self.num_classes,
            device=self.device,
            train_size=len(self.y_train),
            model=self.model,
            layers=layers,
            examples=self.mix_examples if self.examples_in_memory else None,
            normalisation=(
                (self.normalisation.mean, self.normalisation.scale)
                if self.normalisation.per_channel
                else None
            ),
        )
        return Mixer(
            build_mix_method(config, context), self.draws, config.mix_prob, config.mixup_warmup_epochs
        )

    def mix_examples(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        """Training examples at ``idx`` (on the device) as a batch's are: its inputs and (noisy) labels, for
        the methods that draw partners beyond the batch (with ``examples_in_memory`` only)."""
        raise NotImplementedError

    def noise_description(self) -> dict[str, str]:
        if self.config.label_noise == 0:
            return {}
        return {
            "label_noise_protocol": self.config.label_noise_protocol,
            "label_noise_seed": str(self.noise_seed),
        }

    def dataset_description(self, origin: str, digest: str, shapes: str) -> dict[str, str]:
        """The dataset's lineage, reported with the first epoch (MLflow's dataset inputs): its name, where it
        was read, a digest of what was trained and tested on, the splits' shapes and the classes."""
        return {
            "dataset": self.config.dataset,
            "dataset_source": origin,
            "dataset_digest": digest,
            "dataset_shapes": shapes,
            "dataset_classes": str(self.num_classes),
        }

    def input_description(self) -> dict[str, str]:
        """What the model was fed, reported with the first epoch (MLflow tags): the example shape, the
        normalisation
        and, with label noise, the corruption protocol."""
        raise NotImplementedError

    def cut_out(self, x: Tensor) -> Tensor:
        """Normalised training inputs with Cutout's squares zeroed, when the trial cuts out (augment_gen draws
        the centres)."""
        return cutout(x, self.config.cutout, self.augment_gen) if self.config.cutout else x

    def inputs(self, x: Tensor) -> Tensor:
        """Raw stored examples (uint8 images or float features) to normalised float inputs."""
        return self.normalised(as_unit_range(x))

    def normalised(self, x: Tensor) -> Tensor:
        x = self.normalisation(x)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def autocast(self) -> torch.autocast:
        """Mixed precision for training's forward passes (a no-op at fp32); losses are taken in fp32 all the
        same."""
        return torch.autocast(
            self.device.type,
            dtype=self.autocast_dtype or torch.float32,
            enabled=self.autocast_dtype is not None,
        )

    def shuffled_batches(self, device: torch.device | None = None) -> list[Tensor]:
        """The epoch's minibatches of example indices (on ``device``), from the shuffling generator. A
        trailing single
        example is skipped: BatchNorm and pairing need two."""
        n, batch = len(self.y_train), self.config.batch_size
        order = torch.randperm(n, generator=self.shuffle_gen).to(device or "cpu")
        return [
            idx for idx in (order[start : start + batch] for start in range(0, n, batch)) if len(idx) >= 2
        ]

    def minibatches(self) -> Iterator[MixedBatch]:
        """The epoch's training minibatches, mixed by the trial's method or, in ERM epochs, as they are."""
        raise NotImplementedError

    def train_epoch(self, on_step: Callable[[Tensor], None] | None = None) -> float:
        """One pass over the shuffled training set; returns the mean (mixed) training loss.

        ``on_step(loss)``, if given, sees each minibatch's loss after its step
        (tests/trainables/test_differential.py compares them with a textbook loop's).
        """
        self.model.train()
        loss_sum, seen = torch.zeros((), device=self.device), 0
        smoothing = self.config.label_smoothing  # applies to whatever targets the method gives
        for batch in self.minibatches():
            with self.autocast(), mixing_hidden(batch):
                loss = batch_loss(batch, self.train_forward(batch.inputs), smoothing)
            self.optimizer.zero_grad(set_to_none=True)
            self.grad_scaler.scale(loss).backward()
            self.grad_scaler.step(self.optimizer)
            self.grad_scaler.update()
            self.scheduler.step_iteration()
            loss_sum += loss.detach() * len(batch.inputs)  # stays on the device: no sync per step
            seen += len(batch.inputs)
            if on_step is not None:
                on_step(loss.detach())
        return float(loss_sum) / max(seen, 1)

    def evaluate(self) -> Metrics:
        """Errors on unmixed data, in percent (mixed "training accuracy" would mean nothing)."""
        raise NotImplementedError

    def shifted(self) -> Metrics:
        """After the last epoch: corrupted and out-of-distribution test sets (in-memory data only;
        ``TrainConfig`` refuses them for the others)."""
        return {}

    def white_box(self) -> Metrics:
        """Each model attacks itself (in-memory data only; ``TrainConfig`` refuses the others)."""
        raise NotImplementedError("adversarial attacks need an in-memory dataset")

    def generators(self) -> dict[str, torch.Generator]:
        return {"shuffle": self.shuffle_gen, "augment": self.augment_gen}

    def state_dict(self) -> dict[str, Any]:
        rng = rng_state(self.device, self.generators(), self.draws)
        parts = {
            "model": self.model,
            "optimizer": self.optimizer,
            "scheduler": self.scheduler,
            "grad_scaler": self.grad_scaler,
            "mix_method": self.mixer,  # what the method keeps beyond its draws (nothing, for the built-ins)
        }
        return checkpoint(self.config, self.epoch, self.history, rng, **parts)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        check_checkpoint(state, self.config)
        self.epoch, self.history = state["epoch"], list(state["history"])
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if state.get("grad_scaler"):
            self.grad_scaler.load_state_dict(state["grad_scaler"])
        self.mixer.load_state_dict(state.get("mix_method", {}))
        restore_rng(state["rng"], self.device, self.generators(), self.draws)


def run_epochs(
    trial: ClassifierTrial, on_epoch: OnEpoch | None = None, resume_state: dict[str, Any] | None = None
) -> TrainResult:
    """Train ``trial`` for ``config.epochs`` epochs, or on from ``resume_state``, reporting each epoch to
    ``on_epoch``.

    Stops early, with ``diverged`` set, when the training loss is NaN or
    infinite: a diverged config would only diverge again.
    """
    config = trial.config
    if resume_state is not None:
        trial.load_state_dict(resume_state)
    best = min((m["test_error"] for m in trial.history), default=math.inf)
    while trial.epoch < config.epochs:
        lr = trial.optimizer.param_groups[0]["lr"]
        started = time.perf_counter()
        train_loss = trial.train_epoch()  # a float: the device has finished the epoch's work
        train_s = time.perf_counter() - started
        trial.scheduler.step()
        trial.epoch += 1
        diverged = not math.isfinite(train_loss)
        metrics: Metrics = {"epoch": trial.epoch, "train_loss": train_loss, "lr": lr, **trial.evaluate()}
        best = min(best, metrics["test_error"])
        # single-run tables (OpenMixup's, the mixup authors') quote the median of the last 10 epochs' error
        recent = [m["test_error"] for m in trial.history[-(MEDIAN_EPOCHS - 1) :]] + [metrics["test_error"]]
        metrics.update(
            best_test_error=best,
            test_error_median_last10=statistics.median(recent),
            labels_changed=trial.labels_changed_pct,
            diverged=float(diverged),
        )
        if trial.reliability is not None:  # the bins of the calibration metrics, for reliability diagrams
            metrics["reliability"] = trial.reliability  # type: ignore[assignment]
        if trial.epoch == 1:
            metrics.update(trial.input_description())  # type: ignore[arg-type]  # two strings, once
        if config.adversarial and trial.epoch == config.epochs and not diverged:
            metrics.update(trial.white_box())
        if trial.epoch == config.epochs and not diverged:  # the heavy evaluations, once (config.evaluation)
            metrics.update(trial.shifted())
        trial.history.append(metrics)
        if on_epoch is not None:  # with the training pass's timing, which the history leaves out (it varies)
            reported: dict[str, Any] = {**metrics, "train_s": train_s, "train_examples": len(trial.y_train)}
            if trial.epoch == 1:  # and, for the records, what the trial mixed with (the history predates it)
                reported["mixing"] = trial.mixer.description()
            on_epoch(reported, trial.state_dict)
        if diverged:
            return TrainResult(trial.history, diverged=True)
    return TrainResult(trial.history)
