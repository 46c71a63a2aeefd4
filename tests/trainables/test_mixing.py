"""The mixing-method registry (issue 28): the built-ins moved into it without changing a bit, a method
registered from outside the package with its own options, and ``mixup-tune check`` failing each broken
method on the right line."""

from __future__ import annotations

import copy
import json
import typing
from pathlib import Path
from typing import Any

import pytest
import torch
from reference_histories import CONFIGS, FIXTURE, data_files, trained

from trainables import ConfigError, MixedBatch, MixMethod, Option, TrainConfig, register_mix_method, train
from trainables.config import BUILTIN_MIX_METHODS
from trainables.conformance import check_method
from trainables.mixing import MIX_METHODS, Draws


def test_the_built_in_methods_learn_bit_for_bit_what_they_learnt_before_the_registry() -> None:
    """26 configurations, every mixing path (premixed, per batch, Section 2's variants, CutMix, Manifold
    Mixup, timm's coins, streamed, the GAN): histories and final weights as recorded at cb4b06c."""
    expected = json.loads(FIXTURE.read_text())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the fixture was written
    try:
        with data_files() as paths:
            different = [name for name in CONFIGS if trained(name, paths) != expected[name]]
    finally:
        torch.set_num_threads(threads)
    assert not different, different


def test_the_names_mix_method_takes_are_the_registered_built_ins() -> None:
    literal = typing.get_args(typing.get_type_hints(TrainConfig)["mix_method"])
    assert set(literal) == set(BUILTIN_MIX_METHODS) <= set(MIX_METHODS.names())
    for name in BUILTIN_MIX_METHODS:
        assert MIX_METHODS[name].__module__ == f"trainables.mixing.{name}"


def test_a_built_in_named_under_mix_is_the_same_trial_as_by_mix_method() -> None:
    by_field = TrainConfig(alpha=1.0, mix_method="cutmix")
    by_block = TrainConfig(alpha=1.0, mix={"method": "cutmix"})
    assert by_block == by_field and by_block.flat() == by_field.flat() and "mix.method" not in by_block.flat()
    with pytest.raises(ConfigError, match=r"mix\.k: mixup has no options under mix"):
        TrainConfig(mix={"method": "mixup", "k": 3})
    with pytest.raises(ConfigError, match="name the method in one place"):
        TrainConfig(mix_method="cutmix", mix={"method": "manifold_mixup"})
    unknown = r"^mix\.method: unknown mixing method 'nope'; known: augmix, cutmix"
    with pytest.raises(ConfigError, match=unknown):
        TrainConfig(mix={"method": "nope"})
    with pytest.raises(ConfigError, match="^mix: must be a mapping"):
        TrainConfig(mix="cutmix")  # type: ignore[arg-type]


# A method registered from outside the package, as a user's plugin is: options of its own, a state it keeps.


@register_mix_method
class FloorBlend(MixMethod):
    """mixup whose own weight never falls below ``floor``; ``every`` batches it takes a step of a schedule it
    keeps (state in its state_dict)."""

    name, display_name = "test_floor_blend", "Floor blend"
    citation = "a test of tests/trainables/test_mixing.py"
    uses = ("alpha",)
    off = {"alpha": 0.0}
    options = {
        "floor": Option(0.5, low=0.0, high=1.0, doc="least weight of the example's own label"),
        "scope": Option((0.1, 0.8), low=0.0, high=1.0, doc="a range, as a list"),
        "every": Option(2, low=1, doc="batches per schedule step"),
    }

    def setup(self) -> None:
        self.seen = 0

    def mix(self, x: torch.Tensor, y: torch.Tensor, draws: Draws) -> MixedBatch:
        self.seen += 1
        alpha = self.config.alpha * (1 + self.seen // self.options["every"])
        weight = max(float(draws.numpy.beta(alpha, alpha)), self.options["floor"])
        perm = torch.randperm(len(x), generator=draws.torch).to(x.device)
        return MixedBatch.pair(torch.lerp(x[perm], x, weight), y, y[perm], weight)

    def state_dict(self) -> dict[str, Any]:
        return {"seen": self.seen}

    def load_state_dict(self, state: typing.Mapping[str, Any]) -> None:
        self.seen = state["seen"]


def test_a_registered_methods_options_are_checked_and_filled_in_one_form() -> None:
    given = TrainConfig(alpha=1.0, mix={"method": "test_floor_blend", "floor": 1, "scope": [0.2, 0.6]})
    assert given.mix == {"method": "test_floor_blend", "floor": 1.0, "scope": (0.2, 0.6), "every": 2}
    assert TrainConfig(alpha=1.0, mix={"method": "test_floor_blend"}).flat()["mix.floor"] == 0.5
    written_out = TrainConfig(alpha=1.0, mix={"method": "test_floor_blend", "floor": 0.5, "every": 2})
    assert written_out == TrainConfig(alpha=1.0, mix={"method": "test_floor_blend"}), "defaults are filled in"
    refusals = {
        r"mix.floor: must be in \[0, 1\]; got 1.5": {"floor": 1.5},
        "mix.floor: must be a number; got True": {"floor": True},
        "mix.every: must be an integer; got 2.5": {"every": 2.5},
        r"mix.scope: must be a list of 2 numbers": {"scope": [0.1]},
        r"mix.scope\[1\]: must be in \[0, 1\]": {"scope": [0.1, 3]},
        "mix.flor: unknown option of test_floor_blend; its options: every, floor, scope": {"flor": 0.1},
    }
    for message, options in refusals.items():
        with pytest.raises(ConfigError, match=f"^{message}"):
            TrainConfig(alpha=1.0, mix={"method": "test_floor_blend", **options})
    with pytest.raises(
        ConfigError, match=r"^lambda_per: test_floor_blend does not read it: leave it at 'batch'"
    ):
        TrainConfig(alpha=1.0, lambda_per="sample", mix={"method": "test_floor_blend"})


def test_a_registered_method_trains_resumes_and_checkpoints_its_own_state() -> None:
    config = TrainConfig(
        dataset="digits",
        model="mlp",
        epochs=3,
        batch_size=256,
        seed=1,
        device="cpu",
        alpha=1.0,
        mix={"method": "test_floor_blend", "every": 3},
    )
    states: list[dict[str, Any]] = []
    history = train(config, on_epoch=lambda metrics, state: states.append(copy.deepcopy(state()))).history
    assert states[0]["mix_method"] == {"seen": 6} and states[-1]["mix_method"] == {"seen": 18}
    resumed = train(config, resume_state=states[0]).history
    assert resumed == history
    mixup = train(TrainConfig(**{**config.to_dict(), "mix": {}})).history
    assert [m["train_loss"] for m in mixup] != [m["train_loss"] for m in history]
    assert (
        train(TrainConfig(**{**config.to_dict(), "alpha": 0.0})).history
        == train(TrainConfig(**{**config.to_dict(), "alpha": 0.0, "mix": {}})).history
    ), "alpha 0, its off: exact ERM"


def test_registering_a_method_checks_its_declarations_and_a_taken_name() -> None:
    def declare(**attributes: Any) -> type[MixMethod]:
        body = {
            "name": "test_bad",
            "display_name": "Bad",
            "mix": lambda self, x, y, draws: None,
            **attributes,
        }
        return type("Bad", (MixMethod,), body)

    problems = {
        "the name 'cutmix' is taken by trainables.mixing.cutmix.CutMix": {"name": "cutmix"},
        "name must be lower case": {"name": "Bad-Name"},
        "display_name must be a non-empty string": {"display_name": ""},
        "needs \\['gpu'\\]: known needs are images, hidden_states, extra_forward": {
            "needs": frozenset({"gpu"})
        },
        "uses \\['dropout'\\]": {"uses": ("dropout",)},
        "option 'floor' must be a trainables.Option": {"options": {"floor": 0.5}},
        "option 'floor''s default is outside its own range": {"options": {"floor": Option(2.0, high=1.0)}},
        "off names \\['beta'\\]": {"off": {"beta": 0}},
    }
    for message, attributes in problems.items():
        with pytest.raises((TypeError, ValueError), match=message):
            register_mix_method(declare(**attributes))
    with pytest.raises(TypeError, match="defines no mix"):
        register_mix_method(type("NoMix", (MixMethod,), {"name": "test_no_mix", "display_name": "No mix"}))
    assert register_mix_method(FloorBlend) is FloorBlend, "the same class again: its module imported twice"


# mixup-tune check: the built-ins pass, three broken methods fail where they are broken.


@pytest.mark.parametrize("name", [*BUILTIN_MIX_METHODS, "test_floor_blend"])
def test_the_built_ins_and_a_sound_plugin_pass_every_check(name: str) -> None:
    _, checks = check_method(name)
    assert [c.name for c in checks if c.passed is False] == [], [c.line() for c in checks]
    assert len([c for c in checks if c.passed]) >= 7


@register_mix_method
class GlobalRng(MixMethod):
    name, display_name, uses, off = "test_global_rng", "Global RNG", ("alpha",), {"alpha": 0.0}

    def mix(self, x: torch.Tensor, y: torch.Tensor, draws: Draws) -> MixedBatch:
        weight = float(torch.rand(()))  # the global generator: unpaired, and not the trial's to draw from
        perm = torch.randperm(len(x), generator=draws.torch)
        return MixedBatch.pair(torch.lerp(x[perm], x, weight), y, y[perm], weight)


@register_mix_method
class Forgetful(MixMethod):
    """A schedule over the batches it has seen, kept in an attribute its state_dict leaves out."""

    name, display_name, uses, off = "test_forgetful", "Forgetful", ("alpha",), {"alpha": 0.0}

    def setup(self) -> None:
        self.seen = 0

    def mix(self, x: torch.Tensor, y: torch.Tensor, draws: Draws) -> MixedBatch:
        self.seen += 1
        weight = 1 - min(0.5, 0.05 * self.seen)
        perm = torch.randperm(len(x), generator=draws.torch)
        return MixedBatch.pair(torch.lerp(x[perm], x, weight), y, y[perm], weight)


@register_mix_method
class Overweight(MixMethod):
    """Both labels weighted by lambda and 1 - lambda / 2: the targets sum to more than 1."""

    name, display_name, uses, off = "test_overweight", "Overweight", ("alpha",), {"alpha": 0.0}

    def mix(self, x: torch.Tensor, y: torch.Tensor, draws: Draws) -> MixedBatch:
        lam = float(draws.numpy.beta(1.0, 1.0))
        perm = torch.randperm(len(x), generator=draws.torch)
        weights = torch.tensor([[lam, 1 - lam / 2]]).expand(len(x), 2)
        return MixedBatch.many(torch.lerp(x[perm], x, lam), [y, y[perm]], weights)


@pytest.mark.parametrize(
    ("name", "failing", "line"),
    [
        (
            "test_global_rng",
            "no global RNG",
            "the batches change with the global torch, numpy and random seeds",
        ),
        ("test_forgetful", "resume", "state the method keeps is not in its state_dict"),
        ("test_overweight", "targets", "targets are not distributions: a row sums to 1 +"),
    ],
)
def test_each_broken_method_fails_its_check_with_the_reason(name: str, failing: str, line: str) -> None:
    _, checks = check_method(name)
    by_name = {c.name: c for c in checks}
    assert by_name[failing].passed is False and line in by_name[failing].detail, by_name[failing].line()
    assert by_name["targets"].passed is (name != "test_overweight")
    assert by_name["resume"].passed is (name != "test_forgetful"), (
        "the global RNG is seeded alike in both runs"
    )
    assert by_name["precision"].passed and by_name["off"].passed


def test_check_runs_from_the_command_line_with_a_plugin_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mixup_tune.cli import main

    plugin = tmp_path / "my_leaky_methods.py"
    plugin.write_text(
        "import torch\n"
        "from trainables import MixMethod, MixedBatch, register_mix_method\n\n\n"
        "@register_mix_method\n"
        "class Leaky(MixMethod):\n"
        "    name, display_name, uses, off = 'leaky', 'Leaky', ('alpha',), {'alpha': 0.0}\n\n"
        "    def mix(self, x, y, draws):\n"
        "        lam = float(torch.rand(()))  # the global generator\n"
        "        perm = torch.randperm(len(x), generator=draws.torch)\n"
        "        return MixedBatch.pair(torch.lerp(x[perm], x, lam), y, y[perm], lam)\n"
    )
    assert main(["check", "leaky", "--plugins", str(plugin)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  no global RNG" in out and f"(plugin {plugin}, sha256:" in out, out
    broken = tmp_path / "broken_methods.py"
    broken.write_text("from trainables import register_mix_method\n\nimport nowhere_to_be_found\n")
    assert main(["check", "leaky", "--plugins", str(broken)]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err.splitlines() == [
        f"mixup-tune: error: plugin '{broken}': ModuleNotFoundError: No module named 'nowhere_to_be_found' "
        "(broken_methods.py, line 3)"
    ]
