"""What the mixing paths learnt before the mixing methods became a registry (issue 28), kept to the bit.

``reference_histories.json`` was written by this module at commit cb4b06c, the last commit before the
change, with ``python tests/trainables/reference_histories.py --write``. It holds, for each configuration
below (every mixing path of the classifier, streamed and in memory, and the GAN's), the per-epoch history
with every float as its hex form and a SHA-256 of the final weights. ``test_mixing_registry.py`` trains the
same configurations with the code of today and asserts both equal: the registry changed no draw, no
operation and no rounding of the built-in methods.

Run it on CPU (the file was written on CPU, torch 2.14.1); a different torch may round differently.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

FIXTURE = Path(__file__).with_name("reference_histories.json")
SEED, EPOCHS = 3, 3

_NPZ = {"dataset": "npz", "model": "cnn", "batch_size": 16}
_DIGITS = {"dataset": "digits", "model": "mlp"}
_STREAM = {
    "dataset": "imagefolder_stream",
    "crop_size": 16,
    "model": "cnn",
    "batch_size": 8,
    "loader_workers": 0,
    "optimizer": {"name": "sgd", "lr": 0.05},
}
_GAN = {
    "task": "gan",
    "batch_size": 32,
    "optimizer": {"name": "adam", "lr": 1e-3, "weight_decay": 0},
    "gan": {
        "generator_widths": [16, 16],
        "discriminator_widths": [16, 16],
        "iterations_per_epoch": 15,
        "discriminator_steps": 2,
        "snapshots": [5, 15, 30],
        "snapshot_size": 50,
        "eval_samples": 200,
    },
}

CONFIGS: dict[str, dict[str, Any]] = {
    "erm-digits": {**_DIGITS, "alpha": 0.0, "batch_size": 128},
    "mixup-premixed-batch": {**_DIGITS, "alpha": 1.0, "batch_size": 128},
    "mixup-premixed-sample": {**_DIGITS, "alpha": 0.4, "lambda_per": "sample", "batch_size": 128},
    "mixup-premixed-label-smoothing": {**_DIGITS, "alpha": 1.0, "label_smoothing": 0.2, "batch_size": 128},
    "mixup-warmup": {**_DIGITS, "alpha": 1.0, "mixup_warmup_epochs": 2, "batch_size": 128},
    "mixup-3way-two-loaders": {**_DIGITS, "alpha": 1.0, "mix_k": 3, "mix_pairing": "two_loaders"},
    "mixup-2way-two-loaders": {**_DIGITS, "alpha": 0.5, "mix_pairing": "two_loaders", "batch_size": 128},
    "mixup-4way-shuffle-sample": {**_DIGITS, "alpha": 1.0, "mix_k": 4, "lambda_per": "sample"},
    "mixup-same-label-augment": {**_NPZ, "augment": True, "alpha": 1.0, "mix_pairing": "same_label"},
    "mixup-augment-dropout-noise": {
        **_NPZ,
        "augment": True,
        "dropout": 0.3,
        "alpha": 1.0,
        "lambda_per": "sample",
        "label_noise": 0.3,
    },
    "mixup-augment-batch": {**_NPZ, "augment": True, "alpha": 0.2},
    "mixup-cutout-label-smoothing": {
        **_NPZ,
        "augment": True,
        "cutout": 8,
        "label_smoothing": 0.1,
        "alpha": 1.0,
    },
    "mixup-mix-prob": {**_DIGITS, "alpha": 1.0, "mix_prob": 0.6, "batch_size": 64},
    "cutmix-batch": {**_NPZ, "alpha": 1.0, "mix_method": "cutmix"},
    "cutmix-sample-augment": {
        **_NPZ,
        "augment": True,
        "alpha": 1.0,
        "mix_method": "cutmix",
        "lambda_per": "sample",
    },
    "cutmix-label-smoothing-mix-prob": {
        **_NPZ,
        "alpha": 0.5,
        "mix_method": "cutmix",
        "label_smoothing": 0.1,
        "mix_prob": 0.7,
    },
    "switch-and-mix-prob": {
        **_NPZ,
        "alpha": 1.0,
        "mix_switch_prob": 0.5,
        "mix_prob": 0.8,
        "label_smoothing": 0.1,
    },
    "manifold-mlp-batch": {**_DIGITS, "alpha": 2.0, "mix_method": "manifold_mixup", "batch_size": 128},
    "manifold-cnn-sample": {**_NPZ, "alpha": 1.0, "mix_method": "manifold_mixup", "lambda_per": "sample"},
    "manifold-mlp-label-smoothing": {
        **_DIGITS,
        "alpha": 1.0,
        "mix_method": "manifold_mixup",
        "label_smoothing": 0.1,
        "batch_size": 128,
    },
    "cutmix-alpha-0-is-erm": {**_NPZ, "alpha": 0.0, "mix_method": "cutmix", "label_smoothing": 0.1},
    "stream-mixup": {**_STREAM, "alpha": 1.0},
    "stream-cutmix-sample": {**_STREAM, "alpha": 1.0, "mix_method": "cutmix", "lambda_per": "sample"},
    "stream-manifold-warmup": {
        **_STREAM,
        "alpha": 1.0,
        "mix_method": "manifold_mixup",
        "mixup_warmup_epochs": 1,
    },
    "gan-paper": {**_GAN, "alpha": 0.2},
    "gan-released-code": {**_GAN, "alpha": 0.5, "gan": {**_GAN["gan"], "mixing": "released_code"}},
}


@contextmanager
def data_files() -> Iterator[dict[str, str]]:
    """The tiny files the configurations read: a colour npz (as tests/conftest.py's ``colour_npz``) and a
    JPEG image folder (tests/helpers.py's ``write_image_folder``), written the same way every time."""
    sys.path.append(
        str(Path(__file__).resolve().parents[1])
    )  # helpers, after the package tests/trainables would shadow
    from helpers import write_image_folder

    with tempfile.TemporaryDirectory() as directory:
        rng = np.random.default_rng(0)
        npz = Path(directory) / "colour.npz"
        np.savez(
            npz,
            x_train=rng.integers(0, 256, (48, 3, 32, 32), dtype=np.uint8),
            y_train=rng.integers(0, 4, 48),
            x_test=rng.integers(0, 256, (16, 3, 32, 32), dtype=np.uint8),
            y_test=rng.integers(0, 4, 16),
        )
        folder = write_image_folder(Path(directory) / "images", classes=4, train=8, test=4, test_split="val")
        yield {"npz": str(npz), "imagefolder_stream": str(folder)}


def _exact(value: Any) -> Any:
    """A history value in a form JSON keeps to the bit: floats as hex, other numbers and strings as they
    are; the reliability bins (an object) by their fields."""
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, (int, str, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _exact(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_exact(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: _exact(getattr(value, name)) for name in value.__dataclass_fields__}
    if hasattr(value, "tolist"):
        return _exact(value.tolist())
    return repr(value)


# where the temporary files were (and the streamed folder's digest, which hashes their paths); and a
# statistic of the history reported since the fixture was written (the median of the last 10 epochs' test
# error, of the recorded test errors themselves), which changes nothing the trial learns
_VARIES = ("dataset_source", "dataset_digest", "test_error_median_last10")


def weights_digest(state: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(state.items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def trained(name: str, paths: dict[str, str]) -> dict[str, Any]:
    """One configuration trained from scratch: its exact history and the digest of its final weights."""
    from trainables import TrainConfig, train

    options = {"epochs": EPOCHS, "seed": SEED, "device": "cpu", **CONFIGS[name]}
    if options.get("dataset") in paths:
        options["data_path"] = paths[options["dataset"]]
    captured: dict[str, Any] = {}
    result = train(
        TrainConfig.from_dict(options), on_epoch=lambda metrics, state: captured.update(state=state())
    )
    state = captured["state"]
    weights = state["model"] if "model" in state else {**state["generator"], **state["discriminator"]}
    from trainables.tasks._evaluation import ADDED_KEYS  # and issue 31's calibration, reported since

    varies = {*_VARIES, *ADDED_KEYS}
    history = [
        {key: _exact(value) for key, value in entry.items() if key not in varies} for entry in result.history
    ]
    return {"history": history, "weights": weights_digest(weights)}


def main() -> None:
    sys.path.insert(
        0, str(Path(__file__).resolve().parents[2])
    )  # the repository's trainables, not this folder's
    import torch

    torch.set_num_threads(1)
    with data_files() as paths:
        recorded = {name: trained(name, paths) for name in CONFIGS}
    if "--write" in sys.argv:
        FIXTURE.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        print(f"wrote {FIXTURE} ({len(recorded)} configurations)")
    else:
        expected = json.loads(FIXTURE.read_text())
        for name, got in recorded.items():
            print(name, "same" if expected.get(name) == got else "DIFFERENT")


if __name__ == "__main__":
    main()
