"""``TrainConfig``: one trial's every option, and the flat dotted names sweeps use for them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, Literal

from ._checks import (
    BUILTIN_MIX_METHODS,
    FORBID_EXTRA,
    MixMethodName,
    check_own_types,
    finite,
    normalise_types,
    require,
)
from ._evaluation import EvaluationConfig
from ._flat import GROUPED, PLUGIN_VERSIONS, OptionGroup, flatten, unflatten
from ._named import canonical_mix, check_model_and_data, check_registered
from ._sections import GAN_OPTIONS, GanConfig, OptimizerConfig, ScheduleConfig

# Classifier options added after trial ids were first logged, with their defaults (see TrainConfig.flat).
_ADDED_LATER = {
    "crop_size": 224,
    "loader_workers": 4,
    "label_noise_protocol": "fraction",
    "deterministic": True,
    "label_smoothing": 0.0,
    "cutout": 0,
    "mix_method": "mixup",
    "mix_prob": 1.0,
    "mix_switch_prob": 0.0,
    "label_column": None,
    "split_column": None,
    "metrics": (),
    "test_subset": None,
    "evaluation": asdict(EvaluationConfig()),
}
_GAN_ADDED_LATER = {"gan.mixing": "paper", "deterministic": True}  # the same, for a GAN trial's flat options


@dataclass
class TrainConfig:
    """One trial. Every field can be a sweep axis (nested ones as ``optimizer.lr``)."""

    __pydantic_config__ = FORBID_EXTRA

    task: Literal["classify", "gan"] = (
        # gan: Section 3.7's toy GAN, set by ``gan`` (alpha, batch_size, epochs, optimizer, seed apply)
        "classify"
    )

    # data
    dataset: str = "digits"  # a name from trainables.data.dataset_names()
    data_root: str | None = None  # None: $MIXUP_TUNE_DATA, else ../shared/datasets, else ./data
    data_path: str | None = None  # file or folder, for the "npz", "csv", "parquet" and "imagefolder" datasets
    label_column: str | None = (
        None  # csv and parquet: the column of labels (strings become classes, in order)
    )
    # csv and parquet: a column of "train" and "test" (and "val") per row; None: a stratified 80/20 split
    split_column: str | None = None
    train_subset: int | None = None  # keep this many training examples (fixed draw, same for every trial)
    test_subset: int | None = None  # evaluate on this many test examples (fixed draw, same for every trial)
    val_fraction: float = 0.0  # held out of the training set before corruption; reported as val_error
    augment: bool | None = None  # random crop (pad 4) + flip; None: on for 32x32 colour images
    # imagefolder_stream only: pixels per side of the random-resized training crop and the centre test crop
    crop_size: int = 224
    # imagefolder_stream only: DataLoader worker processes decoding
    # images (what is drawn does not depend on it)
    loader_workers: int = 4
    download: bool = False  # let torchvision download when files are missing (needs internet)
    # model
    # a name from trainables.models.model_names(), torchvision/NAME, timm/NAME or package.module:Callable
    model: str = "mlp"
    # keywords of a torchvision/, timm/ or import-string model (the registry's take hidden_sizes, dropout)
    model_options: dict[str, Any] = field(default_factory=dict)
    hidden_sizes: tuple[int, ...] = (128, 128)  # MLP widths; the paper's tabular net is 2x128
    dropout: float = 0.0  # probability; PreAct ResNet puts it between the two convs of each block
    # optimisation
    epochs: int = 30
    batch_size: int = 64  # examples per SGD step
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    gan: GanConfig = field(default_factory=GanConfig)
    # mixup
    alpha: float = 0.0  # lambda ~ Beta(alpha, alpha); 0 is exact ERM
    lambda_per: Literal["batch", "sample"] = "batch"  # the paper draws one lambda per minibatch
    # Section 2's alternatives (the defaults are the paper's method)
    mix_k: int = 2  # examples per mixed input; above 2, weights ~ Dirichlet(alpha, ..., alpha)
    mixup_warmup_epochs: int = 0  # epochs of ERM before mixing starts (the paper's speech study: 5)
    mix_pairing: Literal["shuffle", "two_loaders", "same_label"] = (
        # partners: the shuffled minibatch itself, a second shuffled pass
        # over the data, or examples of equal label
        "shuffle"
    )
    # mixup's successors, composable with it and with each other (docs/regularisers.md)
    # cutmix: a box of the partner pasted into each image, lambda set to the area left (Yun et al. 2019);
    # manifold_mixup: hidden states mixed at a layer drawn per batch (Verma et al. 2019)
    mix_method: MixMethodName = "mixup"
    # any registered mixing method with its own options (trainables.mixing, docs/plugins.md), e.g.
    # {method: resizemix, scope: [0.1, 0.8]}, swept as mix.method and mix.scope; the three above may be
    # named here too ({method: cutmix} is mix_method: cutmix)
    mix: dict[str, Any] = field(default_factory=dict)
    mix_prob: float = 1.0  # probability that a batch is mixed at all (timm's prob); the others train as ERM
    # probability that a batch takes CutMix instead of mixup (timm's switch_prob)
    mix_switch_prob: float = 0.0
    label_smoothing: float = 0.0  # eps: targets (1 - eps) one-hot + eps / K (Szegedy et al. 2016), in [0, 1)
    # pixels per side of a square zeroed on each training image, at a uniform centre (DeVries & Taylor
    # 2017); 0: off
    cutout: int = 0
    # label noise (Zhang et al. 2017)
    label_noise: float = 0.0  # fraction of training labels replaced by a uniform draw, in [0, 1)
    label_noise_protocol: Literal["fraction", "bernoulli"] = (
        # exactly that fraction, drawn per trial; or each label with that probability, one draw shared by the
        # sweep (Zhang et al.'s code)
        "fraction"
    )
    # adversarial robustness (Section 3.5), measured after the last epoch
    adversarial: bool = False  # white-box FGSM and I-FGSM on a fixed test subset, true labels
    # max perturbation per input value, inputs in [0, 1] (the paper's 4 of 255)
    adversarial_epsilon: float = 4 / 255
    adversarial_examples: int = 1000  # size of the fixed, seeded test subset that is attacked
    # evaluations of the user's own on the unmixed test set (trainables.register_metric), by name; each is
    # reported as metric/<name>
    metrics: tuple[str, ...] = ()
    # calibration each epoch; corrupted and out-of-distribution test sets after the last (config._evaluation)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    # reproducibility and placement
    seed: int = 0  # seeds initialisation, shuffling, lambda, pairing, augmentation, dropout
    noise_seed: int | None = (
        None  # seeds label corruption; None: same as seed (fraction), 12345 for every trial (bernoulli)
    )
    device: str = "auto"  # "auto" (cuda when present), "cpu", "cuda", "cuda:1", ...
    # speed: none of these changes what a trial learns beyond rounding (benchmarks/reference_loop.py)
    precision: Literal["auto", "fp32", "bf16", "fp16"] = (
        "auto"  # autocast for forward passes; auto: bf16 on CUDA, fp32 elsewhere
    )
    channels_last: bool = (
        True  # NHWC layout for image batches and conv weights: faster convolutions on GPU and CPU
    )
    compile: bool = (
        False  # torch.compile the training forward pass: seconds to minutes of compiling, then faster steps
    )
    # on CUDA: deterministic cuDNN and PyTorch kernels, so that a resumed trial repeats an uninterrupted one;
    # false: cuDNN benchmarks and picks the fastest
    deterministic: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.optimizer, dict):
            self.optimizer = OptimizerConfig(**self.optimizer)
        if isinstance(self.schedule, dict):
            self.schedule = ScheduleConfig(**self.schedule)
        if isinstance(self.gan, dict):
            self.gan = GanConfig(**self.gan)
        if isinstance(self.evaluation, dict):
            self.evaluation = EvaluationConfig(**self.evaluation)
        for name in GROUPED:  # one value of a Ray config (OptionGroup), or a dict-like from elsewhere
            value = getattr(self, name)
            if isinstance(value, str) and value.startswith(
                "{"
            ):  # its text, as Ray's saved state gives it back
                try:
                    setattr(self, name, dict(OptionGroup(value).items))
                except ValueError:
                    pass  # not JSON: refused as not a mapping below
            elif isinstance(value, Mapping) and not isinstance(value, dict):
                setattr(self, name, dict(value))
        check_own_types(self)
        normalise_types(self)
        require(self.task in ("classify", "gan"), "task", f"must be classify or gan; got {self.task!r}")
        canonical_mix(self)
        if self.task == "gan":
            # alpha bounds each point's weight: above 1, mixing would extrapolate
            if self.gan.mixing == "released_code":
                require(
                    finite(self.alpha) and 0 <= self.alpha <= 1,
                    "alpha",
                    "is the upper bound of Uniform(0, alpha) with gan.mixing released_code: in [0, 1]; got "
                    f"{self.alpha}",
                )
            for f in fields(self):
                default = f.default_factory() if callable(f.default_factory) else f.default
                require(
                    f.name in GAN_OPTIONS or getattr(self, f.name) == default,
                    f.name,
                    f"is not used by gan trials (they use {', '.join(GAN_OPTIONS)})",
                )
        check_model_and_data(self)
        require(
            self.dataset not in ("npz", "csv", "parquet", "imagefolder", "imagefolder_stream")
            or bool(self.data_path),
            "data_path",
            f"is required for dataset {self.dataset!r}",
        )
        require(self.crop_size >= 8, "crop_size", f"must be >= 8 pixels; got {self.crop_size}")
        require(
            self.loader_workers >= 0,
            "loader_workers",
            f"must be >= 0 (0: decode in the trial's own process); got {self.loader_workers}",
        )
        # batches come from disk: what needs the whole training set in memory is not available
        if self.dataset == "imagefolder_stream":
            for name, default in (
                ("adversarial", False),
                ("mix_k", 2),
                ("mix_pairing", "shuffle"),
                ("val_fraction", 0.0),
                ("augment", None),
                ("metrics", ()),
            ):
                require(
                    getattr(self, name) == default,
                    name,
                    f"is not available with dataset imagefolder_stream; leave it at {default!r}",
                )
            for name in ("corruptions", "ood"):
                require(
                    not getattr(self.evaluation, name),
                    f"evaluation.{name}",
                    "is not available with dataset imagefolder_stream; leave it empty",
                )
        require(
            self.train_subset is None or self.train_subset >= 2,
            "train_subset",
            f"must be >= 2; got {self.train_subset}",
        )
        require(
            self.test_subset is None or self.test_subset >= 1,
            "test_subset",
            f"must be >= 1; got {self.test_subset}",
        )
        for name in ("val_fraction", "dropout", "label_smoothing", "label_noise"):  # fractions below 1
            value = getattr(self, name)
            require(finite(value) and 0 <= value < 1, name, f"must be in [0, 1); got {value}")
        for name in ("mix_prob", "mix_switch_prob"):
            value = getattr(self, name)
            require(finite(value) and 0 <= value <= 1, name, f"must be a probability in [0, 1]; got {value}")
        require(
            all(h >= 1 for h in self.hidden_sizes),
            "hidden_sizes",
            f"must be positive widths; got {self.hidden_sizes}",
        )
        require(self.epochs >= 1, "epochs", f"must be >= 1; got {self.epochs}")
        require(
            self.batch_size >= 2, "batch_size", f"must be >= 2 (mixup pairs examples); got {self.batch_size}"
        )
        require(
            finite(self.alpha) and self.alpha >= 0,
            "alpha",
            f"must be a finite number >= 0; got {self.alpha}",
        )
        require(
            self.lambda_per in ("batch", "sample"),
            "lambda_per",
            f"must be 'batch' or 'sample'; got {self.lambda_per!r}",
        )
        require(
            0 <= self.mixup_warmup_epochs,
            "mixup_warmup_epochs",
            f"must be >= 0; got {self.mixup_warmup_epochs}",
        )
        require(2 <= self.mix_k <= 16, "mix_k", f"must be from 2 to 16 examples; got {self.mix_k}")
        require(
            self.mix_pairing in ("shuffle", "two_loaders", "same_label"),
            "mix_pairing",
            f"must be shuffle, two_loaders or same_label; got {self.mix_pairing!r}",
        )
        require(self.cutout >= 0, "cutout", f"must be >= 0 pixels (0: off); got {self.cutout}")
        require(
            self.mix_method in BUILTIN_MIX_METHODS,
            "mix_method",
            f"must be one of {', '.join(BUILTIN_MIX_METHODS)}; got {self.mix_method!r}",
        )
        # Whether the model names layers to mix at (manifold_layers) is known once it is built: the sweep's
        # pre-run check builds it on the data (mixup_tune.checks), a lone trial when it starts.
        if self.alpha > 0 and self.mix_method == "manifold_mixup":
            require(not self.compile, "compile", "must be false with manifold_mixup (it mixes through hooks)")
        require(
            self.mix_switch_prob == 0 or self.mix_method == "mixup",
            "mix_switch_prob",
            "switches batches from mixup to CutMix: needs mix_method mixup",
        )
        if self.uses_cutmix or (self.alpha > 0 and self.mix_method != "mixup"):
            for name, default in (("mix_k", 2), ("mix_pairing", "shuffle")):
                require(
                    getattr(self, name) == default,
                    name,
                    f"Section 2's variants are mixup's: leave {name} at {default!r} with CutMix or Manifold "
                    "Mixup",
                )
        require(
            self.label_noise_protocol in ("fraction", "bernoulli"),
            "label_noise_protocol",
            f"must be fraction or bernoulli; got {self.label_noise_protocol!r}",
        )
        require(
            finite(self.adversarial_epsilon) and 0 < self.adversarial_epsilon <= 1,
            "adversarial_epsilon",
            f"must be in (0, 1] (inputs are in [0, 1]); got {self.adversarial_epsilon}",
        )
        require(
            self.adversarial_examples >= 1,
            "adversarial_examples",
            f"must be >= 1; got {self.adversarial_examples}",
        )
        require(self.seed >= 0, "seed", f"must be >= 0; got {self.seed}")
        require(
            self.noise_seed is None or self.noise_seed >= 0,
            "noise_seed",
            f"must be >= 0; got {self.noise_seed}",
        )
        require(
            self.precision in ("auto", "fp32", "bf16", "fp16"),
            "precision",
            f"must be auto, fp32, bf16 or fp16; got {self.precision!r}",
        )
        require(
            self.device == "auto"
            or self.device == "cpu"
            or self.device.startswith("cuda")
            or self.device == "mps",
            "device",
            f"must be auto, cpu, cuda[:N] or mps; got {self.device!r}",
        )
        check_registered(self)

    @property
    def mix_method_name(self) -> str:
        """The registered name of the method the trial mixes with."""
        return str(self.mix.get("method", self.mix_method))

    @property
    def uses_cutmix(self) -> bool:
        """Whether any batch can be CutMix's (which needs images)."""
        return self.alpha > 0 and (self.mix_method == "cutmix" or self.mix_switch_prob > 0)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a nested dict, or a flat one with dotted keys (``optimizer.lr``). A sweep's record of
        its plugins' versions (``PLUGIN_VERSIONS``) is not an option: left out."""
        return cls(**unflatten({key: value for key, value in values.items() if key != PLUGIN_VERSIONS}))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def flat(self) -> dict[str, Any]:
        """Dotted keys, as logged to MLflow and swept over.

        A classifier's leave out ``task`` and the ``gan`` block, and options of
        ``_ADDED_LATER`` at their defaults: its params and trial id (a hash of
        these) stay what they were before those existed. A GAN's hold only the
        options it uses.
        """
        values = self.to_dict()
        if self.task == "gan":
            flat = flatten({name: values[name] for name in GAN_OPTIONS})
            return {key: value for key, value in flat.items() if _GAN_ADDED_LATER.get(key, object()) != value}
        del values["task"], values["gan"]
        for name, default in _ADDED_LATER.items():
            if values[name] == default:
                del values[name]
        return flatten(values)


def defaults_left_out() -> dict[str, Any]:
    """The options ``TrainConfig.flat`` leaves out of a trial's params at their default, with that default:
    a run without one of these params ran at the default."""
    return {**_ADDED_LATER, **_GAN_ADDED_LATER}


def option_names() -> list[str]:
    """Every sweepable option, dotted. Of ``mix``, its method (``mix.method``): the method's own options
    (``mix.OPTION``) depend on the method, and are checked by it (``is_option_name``)."""
    names: list[str] = []
    for f in fields(TrainConfig):
        default = f.default_factory() if callable(f.default_factory) else None
        if is_dataclass(default):
            names += [f"{f.name}.{sub.name}" for sub in fields(default)]
        elif f.name == "mix":
            names.append("mix.method")
        else:
            names.append(f.name)
    return names


def is_option_name(key: str) -> bool:
    """Whether ``key`` may name a trial option in a sweep: one of ``option_names``, or ``mix`` and any
    ``mix.OPTION`` (which the trial's method then checks), or ``model_options.OPTION`` (its model's)."""
    return (
        key in ("mix", "model_options") or key.startswith(("mix.", "model_options.")) or key in option_names()
    )
