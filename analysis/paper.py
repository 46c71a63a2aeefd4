"""The paper's own numbers, to print beside ours (mixup-paper.txt; PROTOCOL.md)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# Table 2: CIFAR-10, PreAct ResNet-18, 200 epochs; errors in %, for the best setting of each method.
TABLE2 = pd.DataFrame(
    [
        (0.2, "ERM", "", 12.7, 16.6, 0.05, 0.28),
        (0.2, "dropout", "p=0.7", 8.8, 10.4, 5.26, 83.55),
        (0.2, "mixup", "alpha=8", 5.9, 6.4, 2.27, 86.32),
        (0.5, "ERM", "", 18.8, 44.6, 0.26, 0.64),
        (0.5, "dropout", "p=0.8", 14.1, 15.5, 12.71, 86.98),
        (0.5, "mixup", "alpha=32", 11.3, 12.7, 5.84, 85.71),
        (0.8, "ERM", "", 36.5, 73.9, 0.62, 0.83),
        (0.8, "dropout", "p=0.8", 30.9, 35.1, 29.84, 86.37),
        (0.8, "mixup", "alpha=32", 25.3, 30.9, 18.92, 85.44),
    ],
    columns=[
        "label_noise",
        "method",
        "setting",
        "best_test_error",
        "last_test_error",
        "train_error_real",
        "train_error_corrupted",
    ],
)
TABLE2_SOURCE = "Zhang et al. (2018), Table 2: CIFAR-10, PreAct ResNet-18, 200 epochs"

# Table 3: ImageNet, ResNet-101, epsilon 4 of 255; error in % on adversarial examples.
TABLE3 = pd.DataFrame(
    [
        ("ERM", 90.7, 63.1, 99.9, 93.4, 57.0, 24.8, 57.3, 18.1),
        ("mixup", 75.2, 49.1, 99.6, 95.8, 46.0, 17.4, 40.9, 11.8),
    ],
    columns=[
        "method",
        "white_box_fgsm_error",
        "white_box_fgsm_error_top5",
        "white_box_ifgsm_error",
        "white_box_ifgsm_error_top5",
        "black_box_fgsm_error",
        "black_box_fgsm_error_top5",
        "black_box_ifgsm_error",
        "black_box_ifgsm_error_top5",
    ],
)
TABLE3_SOURCE = (
    "Zhang et al. (2018), Table 3: ImageNet, ResNet-101, epsilon 4/255 "
    "(black box: examples from a second ERM model)"
)

# Table 4: UCI datasets, MLP 2x128 ReLU, Adam defaults, 10 epochs, batch 16; test error in %.
# The paper gives neither its splits nor its alpha; "mixup" is its one reported mixup setting.
TABLE4 = pd.DataFrame(
    [
        ("abalone", 74.0, 73.6),
        ("arcene", 57.6, 48.0),
        ("arrhythmia", 56.6, 46.3),
        ("htru2", 2.0, 2.0),
        ("iris", 21.3, 17.3),
        ("phishing", 16.3, 15.2),
    ],
    columns=["dataset", "erm_test_error", "mixup_test_error"],
)
TABLE4_SOURCE = "Zhang et al. (2018), Table 4: UCI, MLP 2x128, Adam, 10 epochs, batch 16"

# Figure 4: Google commands (65,000 clips, 30 classes); validation and test error in %.
FIGURE4 = pd.DataFrame(
    [
        ("lenet", 0.0, 9.8, 10.3),
        ("lenet", 0.1, 10.1, 10.8),
        ("lenet", 0.2, 10.2, 11.3),
        ("vgg11", 0.0, 5.0, 4.6),
        ("vgg11", 0.1, 4.0, 3.8),
        ("vgg11", 0.2, 3.9, 3.4),
    ],
    columns=["model", "alpha", "val_error", "test_error"],
)
FIGURE4_SOURCE = "Zhang et al. (2018), Figure 4: Google commands, 65,000 clips, 30 classes"

# Table 1: ImageNet-2012 validation error in %, top-1 and top-5 (None:
# not reported), per network, epochs and method.
TABLE1 = pd.DataFrame(
    [
        ("resnet50", 90, 0.0, 23.5, None),
        ("resnet50", 90, 0.2, 23.3, 6.6),
        ("resnet101", 90, 0.0, 22.1, None),
        ("resnet101", 90, 0.2, 21.5, 5.6),
        ("resnext101_32x4d", 90, 0.0, 21.2, 5.6),
        ("resnext101_32x4d", 90, 0.4, 20.7, 5.3),
        ("resnext101_64x4d", 90, 0.4, 19.8, 4.9),
        ("resnext101_32x4d", 100, 0.0, 21.2, None),
        ("resnext101_64x4d", 100, 0.0, 20.4, 5.3),  # ERM, as Xie et al. (2016) report it
        ("resnet50", 200, 0.0, 23.6, 7.0),
        ("resnet50", 200, 0.2, 22.1, 6.1),
        ("resnet101", 200, 0.0, 22.0, 6.1),
        ("resnet101", 200, 0.2, 20.8, 5.4),
        ("resnext101_32x4d", 200, 0.0, 21.3, 5.9),
        ("resnext101_32x4d", 200, 0.4, 20.1, 5.0),
    ],
    columns=["model", "epochs", "alpha", "top1_error", "top5_error"],
)
TABLE1_SOURCE = (
    "Zhang et al. (2018), Table 1: ImageNet-2012 validation set, batch 1024, Goyal et al.'s schedule"
)


@dataclass(frozen=True)
class Setting:
    """What one of the paper's tables was measured on. Its numbers are printed beside ours only where our runs
    are on the same dataset, network family and number of epochs; elsewhere the report names what differs."""

    what: str  # as the report names it
    datasets: frozenset[str]
    models: frozenset[str]  # our model names of the paper's network family
    epochs: frozenset[int]


TABLE1_SETTING = Setting(
    "ImageNet-2012, ResNet-50/101 and ResNeXt-101, 90 or 200 epochs",
    frozenset({"imagefolder_stream"}),
    frozenset(TABLE1["model"]),
    frozenset({90, 100, 200}),
)
TABLE2_SETTING = Setting(
    "CIFAR-10, PreAct ResNet-18, 200 epochs",
    frozenset({"cifar10"}),
    frozenset({"preact_resnet18", "preact_resnet18_authors"}),
    frozenset({200}),
)
# Table 3 attacks ImageNet models; attacks here need the data in memory, so no sweep of ours is on ImageNet.
TABLE3_SETTING = Setting(
    "ImageNet, ResNet-101", frozenset({"imagenet"}), frozenset({"resnet101"}), frozenset({90})
)
TABLE4_SETTING = Setting(
    "UCI, MLP 2x128, 10 epochs", frozenset(TABLE4["dataset"]), frozenset({"mlp"}), frozenset({10})
)
FIGURE4_SETTING = Setting(
    "Google commands, LeNet or VGG-11, 30 epochs",
    frozenset({"speech_commands"}),
    frozenset({"lenet", "vgg11"}),
    frozenset({30}),
)


def differences(runs: pd.DataFrame, setting: Setting) -> list[str]:
    """What these runs have that the paper's setting has not: empty when its numbers belong beside them."""
    found = []
    for column, allowed, name in (
        ("dataset", setting.datasets, "dataset"),
        ("model", setting.models, "network"),
        ("epochs", setting.epochs, "epochs"),
    ):
        ours = (
            sorted({value.item() if hasattr(value, "item") else value for value in runs[column].dropna()})
            if column in runs
            else []
        )
        others = [value for value in ours if value not in allowed]
        if others or not ours:
            found.append(f"{name} {', '.join(map(str, others)) or 'not recorded'}")
    return found


def comparable(runs: pd.DataFrame, setting: Setting) -> bool:
    return not differences(runs, setting)


def not_comparable(runs: pd.DataFrame, setting: Setting, source: str) -> str:
    """The sentence a report prints instead of the paper's numbers."""
    differ = "; ".join(differences(runs, setting))
    return (
        f"The paper's numbers are not printed beside ours: {source} is {setting.what}, "
        f"and these runs differ in {differ}."
    )
