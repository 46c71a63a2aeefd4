"""The models: shapes, and the paper's dropout placement in PreAct ResNet-18."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainables import build_model, model_names
from trainables.models.cifar import PreActBlock


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("mlp", (4,)),
        ("mlp", (1, 8, 8)),
        ("cnn", (1, 8, 8)),
        ("cnn", (1, 28, 28)),
        ("preact_resnet18", (3, 32, 32)),
        ("preact_resnet18_authors", (3, 32, 32)),
        ("fast_cifar", (3, 32, 32)),
    ],
)
def test_output_shape(name: str, shape: tuple[int, ...]) -> None:
    model = build_model(name, shape, num_classes=7)
    assert model(torch.randn(2, *shape)).shape == (2, 7)


def test_mlp_has_the_requested_widths() -> None:
    widths = [
        m.out_features
        for m in build_model("mlp", (64,), 10, hidden_sizes=(128, 128))
        if isinstance(m, nn.Linear)
    ]
    assert widths == [128, 128, 10]


@pytest.mark.parametrize(
    ("name", "parameters"), [("preact_resnet18", 11_172_170), ("preact_resnet18_authors", 11_171_274)]
)
def test_both_preact_resnets_have_their_published_size(name: str, parameters: int) -> None:
    """He et al.'s has a final BN (1,024 parameters); the authors' release (mixup-cifar10) a stem BN (128)
    instead."""
    assert sum(p.numel() for p in build_model(name, (3, 32, 32), 10).parameters()) == parameters


def test_the_cifar_resnet18_is_the_benchmarks_size_and_keeps_the_first_stage_at_full_resolution() -> None:
    """OpenMixup's ResNet_CIFAR-18, as kuangliu/pytorch-cifar's ResNet18: 11,173,962 parameters for 10
    classes; a 3x3 stride-1 stem and no max pooling."""
    model = build_model("resnet18_cifar", (3, 32, 32), 10)
    assert sum(p.numel() for p in model.parameters()) == 11_173_962
    assert model.layer1(model.stem(torch.zeros(1, 3, 32, 32))).shape == (1, 64, 32, 32)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in model.modules())


@pytest.mark.parametrize(("authors", "carries"), [(False, "x"), (True, "pre-activation")])
def test_an_identity_shortcut_carries_x_or_the_pre_activation(authors: bool, carries: str) -> None:
    """With its convolutions zeroed, a block outputs its shortcut: x (He et al.) or BN-ReLU(x) (the authors'
    code)."""
    block = PreActBlock(16, 16, stride=1, dropout=0.0, shortcut_from_activation=authors).eval()
    for conv in (block.conv1, block.conv2):
        nn.init.zeros_(conv.weight)
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        expected = torch.relu(block.bn1(x)) if carries == "pre-activation" else x
        assert torch.equal(block(x), expected)


def test_the_authors_preact_resnet_has_a_conv_bn_relu_stem_and_no_final_bn() -> None:
    model = build_model("preact_resnet18_authors", (3, 32, 32), 10)
    order: list[str] = []
    for name in ("conv1", "stem_bn", "layers", "linear"):
        getattr(model, name).register_forward_hook(lambda *a, n=name: order.append(n))
    model.eval()(torch.randn(2, 3, 32, 32))
    assert order == ["conv1", "stem_bn", "layers", "linear"] and isinstance(model.bn, nn.Identity)


@pytest.mark.parametrize("name", ["preact_resnet18", "preact_resnet18_authors"])
def test_preact_dropout_sits_after_the_relu_between_the_two_convolutions(name: str) -> None:
    model = build_model(name, (3, 32, 32), 10, dropout=0.7)
    blocks = [m for m in model.modules() if isinstance(m, PreActBlock)]
    assert len(blocks) == 8
    assert all(isinstance(b.dropout, nn.Dropout) and b.dropout.p == 0.7 for b in blocks)
    seen: list[torch.Tensor] = []
    blocks[0].dropout.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    order: list[str] = []
    for name in ("conv1", "dropout", "conv2"):
        getattr(blocks[0], name).register_forward_hook(lambda *a, n=name: order.append(n))
    model.train()(torch.randn(4, 3, 32, 32))
    assert order == ["conv1", "dropout", "conv2"]
    assert (seen[0] >= 0).all(), "dropout's input is the output of a ReLU"


def test_no_dropout_layers_without_dropout() -> None:
    model = build_model("preact_resnet18", (3, 32, 32), 10)
    assert not any(isinstance(m, nn.Dropout) for m in model.modules())


def test_unknown_model_and_wrong_input_are_named() -> None:
    with pytest.raises(KeyError, match="unknown model 'vgg'"):
        build_model("vgg", (3, 32, 32), 10)
    with pytest.raises(ValueError, match="needs image input"):
        build_model("cnn", (4,), 3)
    assert {"mlp", "cnn", "preact_resnet18"} <= set(model_names())


def test_the_built_in_names_are_known_without_torch_and_each_loads_from_its_entry_point() -> None:
    """The built-ins are declared once, by name and entry point (trainables.catalogue): a config naming
    them is checked without importing torch, and each entry point loads the object its registry holds."""
    import subprocess
    import sys

    from trainables.catalogue import DATASETS, MODELS

    probe = (
        "import sys\n"
        "from trainables import ConfigError, TrainConfig\n"
        "from trainables.catalogue import DATASETS, MODELS\n"
        "for model in MODELS.names():\n"
        "    TrainConfig.from_dict({'dataset': 'digits', 'model': model})\n"
        "for dataset in DATASETS.names():\n"
        "    try:  # a file's dataset wants its path and columns: any complaint but the name will do\n"
        "        TrainConfig.from_dict({'dataset': dataset, 'model': 'mlp'})\n"
        "    except ConfigError as error:\n"
        "        assert not str(error).startswith('dataset'), error\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr[-2000:]
    assert {"mlp", "cnn", "wrn28_10", "resnet50"} <= set(MODELS.names()) == set(model_names())
    for registry in (MODELS, DATASETS):
        for name in registry.names():
            assert registry.is_builtin(name) and callable(registry[name]), name


def test_a_plugin_cannot_take_a_built_in_name_before_its_code_is_imported() -> None:
    from trainables.catalogue import MODELS
    from trainables.registry import Registry

    fresh: Registry[object] = Registry("model")
    fresh.declare("mlp", "trainables.models.small:_mlp")
    with pytest.raises(ValueError, match=r"model 'mlp' is taken by trainables\.models\.small\._mlp"):
        fresh.register("mlp")(lambda *args: None)
    with pytest.raises(ValueError, match="is declared twice"):
        fresh.declare("mlp", "elsewhere:_mlp")
    with pytest.raises(ValueError, match="is not 'module:attribute'"):
        fresh.declare("plain", "trainables.models.small")
    assert MODELS["mlp"] is fresh["mlp"], "a declared entry point loads the built-in's own builder"
    with pytest.raises(KeyError, match="unknown model 'nope'; known: mlp"):
        fresh["nope"]
