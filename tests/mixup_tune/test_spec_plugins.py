"""A sweep file's plugins and its mixing methods' own options (issue 28): imported before the sweep is
checked, so that their names validate like the built-ins'; any problem is one line, exit 2, nothing
written."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixup_tune.cli import main
from mixup_tune.search import grid_points, param_space
from mixup_tune.spec import SpecError, load_spec
from trainables import TrainConfig

PLUGIN = """\
import torch
from trainables import MixedBatch, MixMethod, Option, register_mix_method


@register_mix_method
class Spec_Blend(MixMethod):
    name, display_name, uses, off = "spec_blend", "Spec blend", ("alpha",), {"alpha": 0.0}
    options = {"floor": Option(0.5, low=0.0, high=1.0), "scope": Option((0.1, 0.8), low=0.0, high=1.0)}

    def mix(self, x, y, draws):
        weight = max(float(draws.numpy.beta(self.config.alpha, self.config.alpha)), self.options["floor"])
        perm = torch.randperm(len(x), generator=draws.torch)
        return MixedBatch.pair(torch.lerp(x[perm], x, weight), y, y[perm], weight)
"""


def write(tmp_path: Path, body: str, plugin: str = PLUGIN) -> Path:
    """The sweep file, and the plugin under a file name of its own (a process imports a module name once)."""
    name = f"spec_plugin_{tmp_path.name.replace('-', '_')}"
    method = f"spec_blend_{tmp_path.name[-2:].strip('_')}"  # and its method under a name of its own
    (tmp_path / f"{name}.py").write_text(plugin.replace("spec_blend", method))
    path = tmp_path / "sweep.yaml"
    path.write_text(body.replace("spec_plugin.py", f"{name}.py").replace("spec_blend", method))
    return path


def test_a_plugins_method_and_its_options_are_swept_and_each_trial_gets_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(
        tmp_path,
        "name: s\nplugins: [spec_plugin.py]\ntrainable: {alpha: 1}\n"
        "variants: [{mix: {method: spec_blend, scope: [0.2, 0.4]}}, {mix_method: cutmix}, {}]\n"
        "search: {seed: [0, 1]}\n",
    )
    spec = load_spec(path)
    assert spec.plugins == [str(next(tmp_path.glob("spec_plugin_*.py")))]
    points = grid_points(spec)
    configs = [TrainConfig.from_dict(point) for point in points]
    method = configs[0].mix_method_name
    assert method.startswith("spec_blend_")
    assert [c.mix_method_name for c in configs] == [method] * 2 + ["cutmix"] * 2 + ["mixup"] * 2
    assert configs[0].mix == {"method": method, "floor": 0.5, "scope": (0.2, 0.4)}
    assert configs[2].mix == {} and configs[4].mix == {}, "the others do not inherit the first's options"
    space = param_space(spec)
    assert all(set(point) <= set(space) for point in points), "every key a point sets is in Ray's space"
    overridden = load_spec(path, ["search.mix.floor=[0.6, 0.9]", f"variants=[{{mix: {{method: {method}}}}}]"])
    assert [TrainConfig.from_dict(p).mix["floor"] for p in grid_points(overridden)] == [0.6, 0.9, 0.6, 0.9]


@pytest.mark.parametrize(
    ("body", "plugin", "message"),
    [
        ("plugins: [nowhere.py]\n", PLUGIN, "plugins: plugin '{dir}/nowhere.py': no such file"),
        (
            "plugins: [spec_plugin.py]\n",
            "import torch\nx = (\n",
            "SyntaxError: '(' was never closed (spec_plugin_test_bad_plugins_and_options_a1.py, line 2)",
        ),
        (
            "plugins: [spec_plugin.py]\n",
            "import torch\ntoch.zeros(1)\n",
            "NameError: name 'toch' is not defined",
        ),
        ("plugins: spec_plugin.py\n", PLUGIN, "plugins: must be a list of module names or .py files"),
        (
            "plugins: [spec_plugin.py]\ntrainable: {alpha: 1, mix: {method: spec_blend, floor: 2}}\n",
            PLUGIN,
            "trainable.mix.floor: must be in [0, 1]; got 2.0",
        ),
        (
            "plugins: [spec_plugin.py]\ntrainable: {alpha: 1, mix: {method: spec_blend}}\n"
            "search: {mix.flor: [0.1]}\n",
            PLUGIN,
            "search.mix.flor[0]: unknown option of spec_blend_a5; its options: floor, scope",
        ),
        (
            "trainable: {mix: {method: spec_never_registered}}\n",
            PLUGIN,
            "trainable.mix.method: unknown mixing method 'spec_never_registered'",
        ),
        (
            "plugins: [spec_plugin.py]\ntrainable: {alpha: 1, mix: {method: spec_blend}}\n"
            "search: {mix.scope: [[0.1, 0.2], [0.1, 0.2, 0.3]]}\n",
            PLUGIN,
            "mix.scope: a grid's lists must keep one length",
        ),
    ],
)
def test_bad_plugins_and_options_are_one_line_exit_2_and_nothing_written(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    body: str,
    plugin: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, "name: bad\n" + body, plugin)
    with pytest.raises(SpecError):
        load_spec(path)
    store = tmp_path / "mlflow.db"
    assert main(["run", str(path), "--tracking-uri", f"sqlite:///{store}"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and message.format(dir=tmp_path) in error[0], error
    assert not store.exists() and not (tmp_path / "mixup_tune_results").exists()
