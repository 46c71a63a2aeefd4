"""Property tests: whatever a sweep file or --set holds, the answer is a valid spec or one clear line.

Never a traceback: every failure is a SpecError whose message is one line
naming the file. The CLI turns it into exit code 2 before anything runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mixup_tune import cli
from mixup_tune.spec import SpecError, SweepSpec, load_spec

KEYS = [
    "name",
    "experiment",
    "study",
    "trainable",
    "search",
    "variants",
    "tune",
    "resources",
    "black_box",
    "log_models",
    "bogus",
]
OPTIONS = [
    "alpha",
    "label_noise",
    "dropout",
    "epochs",
    "batch_size",
    "dataset",
    "model",
    "seed",
    "optimizer",
    "schedule",
    "hidden_sizes",
    "val_fraction",
    "device",
    "nonsense",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        ["digits", "mlp", "cnn", "sgd", "adam", "grid", "optuna", "auto", "", "mnist9", "vgg", "1e400"]
    ),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(OPTIONS + KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)
documents = st.dictionaries(
    st.sampled_from(KEYS),
    st.one_of(values, st.dictionaries(st.sampled_from(OPTIONS), values, max_size=5)),
    max_size=7,
)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check(path: Path) -> SweepSpec | None:
    try:
        return load_spec(path)
    except SpecError as error:
        message = str(error)
        assert "\n" not in message and message.startswith(str(path)), message
        return None


def _dump(value: object) -> str:
    return yaml.safe_dump(value, allow_unicode=True) if value is not None else ""


@FAST
@given(document=documents)
def test_any_mapping_is_a_spec_or_one_line(document: dict, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("spec") / "sweep.yaml"
    path.write_text(_dump(document))
    spec = _check(path)
    if spec is not None:  # what passed is sane
        assert math.isfinite(spec.trainable.alpha) and spec.trainable.alpha >= 0
        assert 0 <= spec.trainable.label_noise < 1 and spec.trainable.epochs >= 1


@FAST
@given(content=st.one_of(st.text(max_size=300).map(str.encode), st.binary(max_size=300)))
def test_any_text_or_binary_junk_is_a_spec_or_one_line(content: bytes, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("spec") / "sweep.yaml"
    path.write_bytes(content)
    _check(path)


@FAST
@given(
    key=st.sampled_from(
        OPTIONS
        + ["trainable.optimizer.lr", "search.alpha", "tune.num_samples", "resources.gpu", "name", "x.y.z", ""]
    ),
    raw=st.text(max_size=20),
)
def test_any_override_is_a_spec_or_one_line(key: str, raw: str, tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("spec") / "sweep.yaml"
    path.write_text("name: quick\nsearch: {alpha: [0, 1]}\n")
    try:
        load_spec(path, [f"{key}={raw}"])
    except SpecError as error:
        assert "\n" not in str(error)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=documents)
def test_the_cli_exits_2_with_one_line_on_any_invalid_spec(document: dict, tmp_path_factory, capsys) -> None:
    document["bogus"] = 1  # always invalid, so that nothing would ever start Ray here
    directory = tmp_path_factory.mktemp("cli")
    path = directory / "sweep.yaml"
    path.write_text(_dump(document))
    code = cli.main(["run", str(path), "--tracking-uri", f"sqlite:///{directory / 'mlflow.db'}"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("mixup-tune: error: ")
    assert not (directory / "mlflow.db").exists(), "no MLflow store is touched"


QUICKSTART = yaml.safe_load((Path(__file__).resolve().parents[2] / "sweeps" / "quickstart.yaml").read_text())


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    if isinstance(node, dict):
        return [prefix] + [p for key, child in node.items() for p in _paths(child, (*prefix, key))]
    if isinstance(node, list):
        return [prefix] + [p for index, child in enumerate(node) for p in _paths(child, (*prefix, index))]
    return [prefix]


@FAST
@given(where=st.sampled_from(_paths(QUICKSTART)[1:]), value=values)
def test_one_bad_value_anywhere_in_a_good_spec_is_one_line(
    where: tuple, value: object, tmp_path_factory
) -> None:
    """Mutations of the real quickstart reach every validator, not just the first key."""
    import copy

    document = copy.deepcopy(QUICKSTART)
    node = document
    for step in where[:-1]:
        node = node[step]
    node[where[-1]] = value
    path = tmp_path_factory.mktemp("spec") / "sweep.yaml"
    path.write_text(_dump(document))
    _check(path)
