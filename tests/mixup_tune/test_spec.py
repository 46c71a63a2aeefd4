"""Sweep files: what is accepted, what is refused, and how the refusal reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixup_tune.search import grid_points
from mixup_tune.spec import SpecError, load_spec

REPO = Path(__file__).resolve().parents[2]

BAD_SPECS = {
    "unknown top-level key": ("name: a\nbogus: 1\n", "bogus: unknown key"),
    "unknown trainable key": ("name: a\ntrainable: {epochz: 3}\n", "trainable.epochz: unknown key"),
    "negative alpha on an axis": (
        "name: a\nsearch: {alpha: [0, -1]}\n",
        "search.alpha[1]: must be a finite number >= 0",
    ),
    "label noise of 1": (
        "name: a\ntrainable: {label_noise: 1.0}\n",
        "trainable.label_noise: must be in [0, 1)",
    ),
    "label noise on an axis": (
        "name: a\nsearch: {label_noise: [0.2, 1.5]}\n",
        "search.label_noise[1]: must be in [0, 1)",
    ),
    "unknown dataset": (
        "name: a\ntrainable: {dataset: mnist9}\n",
        "trainable.dataset: unknown dataset 'mnist9'; known: abalone, arcene, arrhythmia, cifar10, cifar100, "
        "csv, digits",
    ),
    "unknown model": (
        "name: a\ntrainable: {model: vgg}\n",
        "trainable.model: unknown model 'vgg'; known: cnn, cnn_narrow, densenet_bc190, fast_cifar, lenet, "
        "mlp",
    ),
    "wrong type": (
        "name: a\ntrainable: {epochs: many}\n",
        "trainable.epochs: must be an integer, not a string; got 'many'",
    ),
    "boolean epochs": (
        "name: a\ntrainable: {epochs: true}\n",
        "trainable.epochs: must be an integer, not a boolean; got True",
    ),
    "numeric string": (
        "name: a\ntrainable: {alpha: '0.5'}\n",
        "trainable.alpha: must be a number, not a string; got '0.5'",
    ),
    "boolean on an axis": (
        "name: a\nsearch: {alpha: [0, true]}\n",
        "search.alpha[1]: must be a number, not a boolean",
    ),
    "string among choices": (
        "name: a\ntune: {algorithm: random}\nsearch: {optimizer.lr: {choice: [0.1, '0.2']}}\n",
        "search.optimizer.lr[1]: must be a number, not a string",
    ),
    "boolean nested": (
        "name: a\ntrainable: {optimizer: {lr: true}}\n",
        "trainable.optimizer.lr: must be a number, not a boolean",
    ),
    "boolean in a list": (
        "name: a\ntrainable: {hidden_sizes: [128, true]}\n",
        "trainable.hidden_sizes: [1] must be an integer, not a boolean",
    ),
    "number for a switch": (
        "name: a\ntrainable: {adversarial: 1}\n",
        "trainable.adversarial: must be true or false; got 1",
    ),
    "string in a variant": (
        "name: a\nvariants: [{dropout: '0.5'}]\n",
        "variants[0].dropout: must be a number, not a string",
    ),
    "boolean sample count": (
        "name: a\ntune: {algorithm: random, num_samples: true}\n",
        "tune.num_samples: must be an integer (got True)",
    ),
    "string cpus": ("name: a\nresources: {cpu: '2'}\n", "resources.cpu: must be a number (got '2')"),
    "boolean bound": (
        "name: a\ntune: {algorithm: random}\nsearch: {alpha: {uniform: [0, true]}}\n",
        "search.alpha: must be a number (got True)",
    ),
    "nested range": (
        "name: a\ntrainable: {optimizer: {lr: -1}}\n",
        "trainable.optimizer.lr: must be a finite number > 0",
    ),
    "unknown optimizer": (
        "name: a\ntrainable: {optimizer: {name: rmsprop}}\n",
        "trainable.optimizer.name: must be 'sgd' or 'adam'",
    ),
    "unknown search option": ("name: a\nsearch: {foo: [1]}\n", "search.foo: unknown option"),
    "YAML syntax": ("name: a\nsearch: {alpha: [0, 1\n", "YAML syntax error"),
    "empty file": ("", "the sweep file is empty"),
    "not a mapping": ("- 1\n- 2\n", "a sweep file is a mapping"),
    "missing name": ("trainable: {}\n", "name: required key is missing"),
    "NaN alpha": (
        "name: a\ntrainable: {alpha: .nan}\n",
        "trainable.alpha: must be a finite number >= 0; got nan",
    ),
    "distribution on a grid": (
        "name: a\nsearch: {alpha: {uniform: [0, 1]}}\n",
        "a distribution needs tune.algorithm random or optuna",
    ),
    "empty range": (
        "name: a\ntune: {algorithm: random}\nsearch: {alpha: {uniform: [1, 0]}}\n",
        "uniform needs finite low < high",
    ),
    "scalar axis": ("name: a\nsearch: {alpha: 3}\n", "search.alpha: must be a list"),
    "gpu word": ("name: a\nresources: {gpu: lots}\n", "resources.gpu: must be auto or a number"),
    "unknown study": ("name: a\nstudy: foo\n", "study: must be"),
    "grid repeats": ("name: a\ntune: {num_samples: 3}\n", "tune.num_samples: must be 1 for a grid"),
    "val_error without a split": (
        "name: a\ntune: {metric: val_error}\n",
        "tune.metric: val_error needs a validation split",
    ),
    "variant with unknown option": ("name: a\nvariants: [{alfa: 1}]\n", "variants[0].alfa: unknown option"),
    "variant out of range": (
        "name: a\nvariants: [{alpha: 0}, {dropout: 1.5}]\n",
        "variants[1]: dropout: must be in [0, 1)",
    ),
    "variant also an axis": (
        "name: a\nsearch: {alpha: [0, 1]}\nvariants: [{alpha: 8}]\n",
        "variants[0].alpha: is also a search axis",
    ),
    "variants off-grid": (
        "name: a\ntune: {algorithm: random}\nvariants: [{alpha: 8}]\n",
        "variants: need tune.algorithm grid",
    ),
    "surrogate with unknown option": (
        "name: a\nblack_box: {surrogate: {alfa: 0}}\n",
        "black_box.surrogate.alfa: unknown option",
    ),
    "surrogate out of range": (
        "name: a\nblack_box: {surrogate: {alpha: -1}}\n",
        "black_box.surrogate: alpha: must be a finite number >= 0",
    ),
    "black box over datasets": (
        "name: a\nsearch: {dataset: [digits, iris]}\nblack_box: {}\n",
        "black_box: needs one dataset",
    ),
    "black box epsilon": ("name: a\nblack_box: {epsilon: 2}\n", "black_box.epsilon"),
    "adversarial epsilon": (
        "name: a\ntrainable: {adversarial_epsilon: 0}\n",
        "trainable.adversarial_epsilon: must be in (0, 1]",
    ),
    "huge epochs type": ("name: a\ntrainable: {epochs: 1.5}\n", "trainable.epochs"),
    "optuna storage on a grid": (
        "name: a\ntune: {optuna_storage: 'sqlite:///x.db'}\n",
        "tune: optuna_storage is for tune.algorithm optuna",
    ),
    "optuna storage not a URL": (
        "name: a\ntune: {algorithm: optuna, optuna_storage: x.db}\n",
        "tune.optuna_storage",
    ),
}


@pytest.mark.parametrize("case", BAD_SPECS)
def test_bad_spec_is_one_line_naming_file_and_key(case: str, tmp_path: Path) -> None:
    text, expected = BAD_SPECS[case]
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as error:
        load_spec(path)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_binary_junk_and_missing_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(SpecError, match="junk.yaml"):
        load_spec(junk)
    with pytest.raises(SpecError, match="no such sweep file"):
        load_spec(tmp_path / "absent.yaml")


def test_quickstart_is_a_16_trial_grid() -> None:
    spec = load_spec(REPO / "sweeps" / "quickstart.yaml")
    points = grid_points(spec)
    assert len(points) == 16
    assert {p["alpha"] for p in points} == {0, 0.2, 1, 4}
    assert {(p["label_noise"], p["seed"]) for p in points} == {(0, 0), (0, 1), (0.4, 0), (0.4, 1)}
    assert all(p["dataset"] == "digits" and p["epochs"] == 30 for p in points)


def test_overrides_reach_any_field() -> None:
    spec = load_spec(
        REPO / "sweeps" / "quickstart.yaml",
        [
            "epochs=2",
            "alpha=[0, 1]",
            "trainable.optimizer.lr=0.05",
            "name=other",
            "search.optimizer.momentum=[0.5, 0.9]",
        ],
    )
    assert spec.name == "other" and spec.trainable.epochs == 2 and spec.trainable.optimizer.lr == 0.05
    assert spec.search["alpha"] == [0, 1] and spec.search["optimizer.momentum"] == [0.5, 0.9]
    assert len(grid_points(spec)) == 2 * 2 * 2 * 2


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("foo=1", "--set foo: unknown key"),
        ("alpha", "expected key=value"),
        ("epochs=-3", "trainable.epochs: must be >= 1"),
    ],
)
def test_bad_overrides(override: str, expected: str) -> None:
    with pytest.raises(SpecError, match=expected):
        load_spec(REPO / "sweeps" / "quickstart.yaml", [override])


def test_random_and_optuna_specs_validate(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: r\ntune: {algorithm: optuna, num_samples: 5}\nsearch: {alpha: {loguniform: [0.1, 4]}, seed: "
        "[0, 1], optimizer.lr: {uniform: [0.01, 0.2]}}\n"
    )
    spec = load_spec(path)
    assert spec.search["alpha"].kind == "loguniform"


def test_label_noise_variants_cross_the_grid() -> None:
    spec = load_spec(REPO / "sweeps" / "label_noise-small.yaml")
    points = grid_points(spec)
    assert len(points) == 3 * 9 * 2
    methods = {(p["alpha"], p["dropout"]) for p in points}
    assert methods == {
        (0, 0.0),
        (0.0, 0.5),
        (0.0, 0.7),
        (0.0, 0.8),
        (0.0, 0.9),
        (1, 0.0),
        (2, 0.0),
        (8, 0.0),
        (32, 0.0),
    }
    assert {p["label_noise"] for p in points} == {0.2, 0.5, 0.8}


def test_black_box_adds_one_surrogate_trial() -> None:
    spec = load_spec(REPO / "sweeps" / "adversarial-small.yaml")
    points = grid_points(spec)
    assert len(points) == 5 * 3 + 1
    assert points[-1]["alpha"] == 0 and points[-1]["seed"] == 1000 and points[-1]["adversarial"] is True


@pytest.mark.parametrize("name", sorted(path.stem for path in (REPO / "sweeps").glob("*.yaml")))
def test_every_shipped_sweep_validates(name: str) -> None:
    assert load_spec(REPO / "sweeps" / f"{name}.yaml").name == name


# The sweeps at the paper's scale (the others are CPU-sized
# versions, or the quick GPU recipe of cifar10_fast).
PAPER_SWEEPS = [
    "adversarial",
    "bias_variance",
    "cifar",
    "cifar-wrn",
    "gan",
    "gan-released",
    "imagenet",
    "imagenet-200",
    "in_between",
    "label_noise",
    "speech",
    "uci",
]


@pytest.mark.parametrize("name", PAPER_SWEEPS)
def test_paper_sweeps_train_in_fp32_with_the_authors_preact_resnet(name: str) -> None:
    """The paper trained in fp32 (precision: auto would mean bf16 on a GPU), and its CIFAR numbers come from
    its authors' PreAct ResNet-18."""
    spec = load_spec(REPO / "sweeps" / f"{name}.yaml")
    points = grid_points(spec)
    assert points and all(point["precision"] == "fp32" for point in points)
    assert not any(point.get("model") == "preact_resnet18" for point in points), (
        "He et al.'s variant is not the paper's"
    )


def test_every_grid_points_options_are_in_ray_tunes_space_with_the_trainables_own_values() -> None:
    """Ray refuses a point with a key its param space lacks; options newer than the first trial ids
    (mix_method, cutout, ...) are left out of ``flat()`` at their defaults, so the space adds them."""
    from mixup_tune.search import param_space

    spec = load_spec(REPO / "sweeps" / "regularisers-small.yaml")
    space = param_space(spec)
    points = grid_points(spec)
    assert len(points) == 192 and all(point.keys() <= space.keys() for point in points)
    assert (space["mix_method"], space["label_smoothing"], space["cutout"]) == ("mixup", 0.0, 0)
