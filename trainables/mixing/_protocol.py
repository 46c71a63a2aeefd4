"""The contract every mixing method follows, built-in or a user's: ``MixMethod``, its ``Option``s, the
``Draws`` it takes, and the ``MixedBatch`` it gives back.

A method is a class. It declares what it is (name, display name, citation), what it needs, the trial
options it reads and its own options, and mixes one minibatch at a time::

    @register_mix_method
    class Blend(MixMethod):
        name, display_name = "blend", "Blend"
        citation = "..."
        uses = ("alpha",)                 # the trial's alpha; alpha: 0 is exact ERM
        off = {"alpha": 0.0}
        options = {"floor": Option(0.0, low=0.0, high=1.0, doc="least weight of the own example")}

        def mix(self, x, y, draws):
            lam = max(float(draws.numpy.beta(self.config.alpha, self.config.alpha)), self.options["floor"])
            perm = torch.randperm(len(x), generator=draws.torch).to(x.device)
            return MixedBatch.pair(torch.lerp(x[perm], x, lam), y, y[perm], lam)

Every draw comes from ``draws``: the trial's own generators, seeded from its seed and saved in its
checkpoints. A method that draws only from them is seeded, paired across trials by seed, and resumed
bit for bit without a line of its own; state it keeps itself goes through ``state_dict``.
``mixup-tune check NAME`` holds a method to all of this.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import TrainConfig

Need = Literal["images", "hidden_states", "extra_forward"]
NEEDS: tuple[Need, ...] = ("images", "hidden_states", "extra_forward")
# The trial options of the mixup family that any method may read (declared in ``MixMethod.uses``); one it
# does not read must stay at its default, so that a sweep never varies an option that changes nothing.
SHARED_OPTIONS = ("alpha", "lambda_per", "mix_k", "mix_pairing", "mix_switch_prob")


class Draws:
    """The generators a mixing method draws from: a numpy ``Generator`` (Beta, Dirichlet, uniform numbers:
    torch's Beta sampler takes no generator) and a CPU torch ``Generator`` (permutations, positions, masks).

    One per trial, seeded from its seed, so that trials with the same seed draw the same partners whatever
    their method; both states are in every checkpoint.
    """

    def __init__(self, seed: int) -> None:
        numpy_seed, torch_seed = np.random.SeedSequence(seed).generate_state(2)
        self.numpy = np.random.default_rng(int(numpy_seed))
        self.torch = torch.Generator().manual_seed(int(torch_seed))

    # The keys are those of the mixup sampler's checkpoints before the registry: old checkpoints resume.
    def state_dict(self) -> dict[str, Any]:
        return {"lambda_rng": self.numpy.bit_generator.state, "perm_gen": self.torch.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.numpy.bit_generator.state = state["lambda_rng"]
        self.torch.set_state(state["perm_gen"])


@dataclass(frozen=True)
class Option:
    """One option of a method, set as ``mix: {method: NAME, OPTION: value}`` and swept as ``mix.OPTION``.

    The type is the default's: a float (an integer is taken for it), an int, a bool, a string, or a tuple
    of numbers (a list in YAML) of the default's length. ``low`` and ``high`` bound a number, or each number
    of a tuple, inclusively; ``choices`` lists the values allowed; ``ordered`` asks a tuple's numbers not
    to fall (a range such as ``[low, high]``).
    """

    default: Any
    doc: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    ordered: bool = False

    def check(self, key: str, value: Any) -> Any:
        """``value`` in its canonical form (1 -> 1.0, [a, b] -> (a, b)), or a ConfigError naming ``key``."""
        default = self.default
        if isinstance(default, tuple):
            if not isinstance(value, (list, tuple)) or len(value) != len(default):
                raise ConfigError(key, f"must be a list of {len(default)} numbers; got {value!r}")
            numbers = tuple(
                self._number(f"{key}[{i}]", item, type(d)) for i, (item, d) in enumerate(zip(value, default))
            )
            if self.ordered and any(a > b for a, b in zip(numbers, numbers[1:])):
                raise ConfigError(key, f"must be a range [low, high] with low <= high; got {list(numbers)}")
            return numbers
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(key, f"must be true or false; got {value!r}")
        elif isinstance(default, (int, float)):
            value = self._number(key, value, type(default))
        elif isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(key, f"must be a string; got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(key, f"must be one of {', '.join(map(str, self.choices))}; got {value!r}")
        return value

    def _number(self, key: str, value: Any, kind: type) -> float | int:
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
            raise ConfigError(key, f"must be {'a number' if kind is float else 'an integer'}; got {value!r}")
        if kind is float:
            value = float(value)
            if not math.isfinite(value):
                raise ConfigError(key, f"must be finite; got {value}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            low = "-inf" if self.low is None else f"{self.low:g}"
            high = "inf" if self.high is None else f"{self.high:g}"
            raise ConfigError(key, f"must be in [{low}, {high}]; got {value}")
        return value


HiddenMix = tuple[nn.Module, Callable[[Tensor], Tensor]]


@dataclass
class MixedBatch:
    """What a method gives the training step for one minibatch.

    ``inputs`` go through the model. The targets are ``labels`` (each a (N,) tensor of class indices, the
    example's own first) weighted by ``weights``: a (N, len(labels)) tensor whose rows sum to 1, or, with
    two labels, one float for the whole batch (the own label's weight; the loss then takes a faster form).
    ``targets`` instead gives (N, classes) target distributions. A method whose loss is not the weighted
    cross-entropy gives ``loss``, a function of the logits, and still says its targets, for the checks.
    ``hidden`` mixes a layer's output in the forward pass (Manifold Mixup): the layer, and what to apply to
    its output; that forward pass only.

    Label smoothing is applied by the training step to whatever the targets are.
    """

    inputs: Tensor
    labels: tuple[Tensor, ...] = ()
    weights: Tensor | float = 1.0
    targets: Tensor | None = None
    loss: Callable[[Tensor], Tensor] | None = None
    hidden: HiddenMix | None = None

    @classmethod
    def unmixed(cls, x: Tensor, y: Tensor) -> MixedBatch:
        """ERM's batch: the inputs as they are, each example's own label."""
        return cls(x, (y,), 1.0)

    @classmethod
    def pair(cls, inputs: Tensor, y: Tensor, partner: Tensor, weight: float | Tensor) -> MixedBatch:
        """Two-way targets: ``weight`` on ``y`` and the rest on ``partner``; one float for the batch, or a
        (N,) tensor, one weight per example."""
        if isinstance(weight, Tensor):
            return cls(inputs, (y, partner), torch.stack([weight, 1 - weight], dim=1))
        return cls(inputs, (y, partner), float(weight))

    @classmethod
    def many(cls, inputs: Tensor, labels: Sequence[Tensor], weights: Tensor) -> MixedBatch:
        """k-way targets: ``weights`` (N, k), rows summing to 1, over ``labels``."""
        return cls(inputs, tuple(labels), weights)

    @classmethod
    def soft(cls, inputs: Tensor, targets: Tensor) -> MixedBatch:
        """Target distributions, (N, classes)."""
        return cls(inputs, (), 1.0, targets=targets)

    def target_distribution(self, num_classes: int) -> Tensor:
        """The targets as (N, classes) distributions, whatever form they were given in (for the checks)."""
        if self.targets is not None:
            return self.targets.float()
        n = len(self.labels[0])
        weights = (
            torch.tensor([[self.weights, 1 - self.weights]]).expand(n, 2)
            if isinstance(self.weights, float) and len(self.labels) == 2
            else torch.ones(n, 1)
            if isinstance(self.weights, float)
            else self.weights
        )
        one_hot = [torch.nn.functional.one_hot(y.cpu(), num_classes).float() for y in self.labels]
        weights = weights.float().cpu()
        return sum(
            (weights[:, j : j + 1] * hot for j, hot in enumerate(one_hot)), torch.zeros(n, num_classes)
        )

    def weight_tensor(self) -> Tensor:
        """The label weights as a (N, len(labels)) tensor (for the checks)."""
        if isinstance(self.weights, Tensor):
            return self.weights.float().cpu()
        n = len(self.labels[0]) if self.labels else len(self.inputs)
        row = [self.weights, 1 - self.weights] if len(self.labels) == 2 else [self.weights]
        return torch.tensor([row], dtype=torch.float32).expand(n, len(row))


@dataclass
class MixContext:
    """What a method may use beyond its batch, given once per trial.

    ``layers``: the modules whose outputs a method that needs ``hidden_states`` may mix at, as the model
    names them (empty otherwise). ``model``: the model being trained, for a method that needs an
    ``extra_forward`` (call it in the method's own ``torch.no_grad`` or with ``torch.enable_grad`` as
    needed; the training step's own forward pass comes after). ``examples``: training examples by index,
    normalised and augmented as the batch's are (``None`` where the data is streamed from disk).
    ``normalisation``: images' per-channel (mean, std), each (C, 1, 1), so that ``x * std + mean`` is the
    batch in pixels of [0, 1], for a method that works on the picture (``None`` for feature vectors).
    """

    num_classes: int
    device: torch.device
    train_size: int
    model: nn.Module | None = None
    layers: list[nn.Module] = field(default_factory=list)
    examples: Callable[[Tensor], tuple[Tensor, Tensor]] | None = None
    normalisation: tuple[Tensor, Tensor] | None = None


class MixMethod:
    """A mixing method. Subclass it, fill in the class attributes, write ``mix``, and register the class
    with ``@register_mix_method``.

    Class attributes:
        name: how sweeps name it (``mix: {method: NAME}``); lower case, digits and underscores.
        display_name: how tables and figures name it.
        citation: the paper, for the docs and the records.
        needs: any of "images" (refuses feature vectors), "hidden_states" (``context.layers``),
            "extra_forward" (``context.model``).
        uses: the trial's mixup-family options it reads, of ``SHARED_OPTIONS``; the others must stay at
            their defaults in its trials.
        off: the settings (of ``uses`` or of its own options) at which it mixes nothing: the trial then
            trains as exact ERM and draws nothing. None: it is never off.
        options: its own options, as ``Option``s, set under ``mix:``.

    An instance serves one trial: ``self.config`` is the trial's ``TrainConfig``, ``self.options`` its
    options (checked, defaults filled in), ``self.context`` a ``MixContext``.
    """

    name: ClassVar[str]
    display_name: ClassVar[str]
    citation: ClassVar[str] = ""
    needs: ClassVar[frozenset[Need]] = frozenset()
    uses: ClassVar[tuple[str, ...]] = ()
    off: ClassVar[Mapping[str, Any] | None] = None
    options: ClassVar[Mapping[str, Option]] = {}

    def __init__(self, config: TrainConfig, options: Mapping[str, Any], context: MixContext) -> None:
        self.config = config
        self.options = dict(options)  # type: ignore[misc]  # the instance's values shadow the declarations
        self.context = context
        self.setup()

    def setup(self) -> None:
        """Once per trial, after the attributes are set: work that does not change batch to batch."""

    @classmethod
    def requirements(cls, config: TrainConfig) -> frozenset[Need]:
        """What a trial of ``config`` needs: ``needs``, unless options change it."""
        return cls.needs

    @classmethod
    def check_config(cls, config: TrainConfig) -> None:
        """Refuse, with a ConfigError naming the option, a combination the option ranges cannot express."""

    @classmethod
    def mixes_in(cls, config: TrainConfig) -> bool:
        """Whether a trial of ``config`` mixes at all: not at the method's ``off`` settings."""
        if cls.off is None:
            return True
        given = {key: value for key, value in config.mix.items() if key != "method"}
        values = {
            **{name: getattr(config, name) for name in SHARED_OPTIONS},
            **{key: option.default for key, option in cls.options.items()},
            **given,
        }
        return any(values.get(key) != value for key, value in cls.off.items())

    def start_epoch(self, draws: Draws) -> None:
        """Before the first batch of every epoch the method mixes (e.g. a second pass over the data)."""

    def mix(self, x: Tensor, y: Tensor, draws: Draws) -> MixedBatch:
        """One minibatch, mixed: ``x`` normalised inputs on the trial's device, ``y`` their labels."""
        raise NotImplementedError

    def mix_epoch(
        self, batches: list[Tensor], context: MixContext, draws: Draws
    ) -> Iterator[MixedBatch] | None:
        """Optional, for speed: a whole epoch of stored, unaugmented batches at once (example indices in
        ``batches``), from the same draws as ``mix`` batch by batch, or None where it cannot."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """What the method keeps between epochs beyond ``draws`` (nothing, for most)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore ``state_dict``'s output."""
