"""`trainables` runs where only torch is installed: it must import neither Ray, MLflow nor pydantic."""

from __future__ import annotations

import subprocess
import sys


def test_trainables_imports_no_orchestration_library() -> None:
    code = (
        "import sys, trainables, trainables.__main__\n"
        "trainables.train(trainables.TrainConfig(epochs=1))\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'ray', 'mlflow', 'pydantic', 'optuna'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_standalone_trial_prints_one_json_line_per_epoch() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "trainables", "epochs=2", "alpha=1", "label_noise=0.2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 and '"epoch": 2' in lines[1] and "train_error_corrupted" in lines[1]
    bad = subprocess.run(
        [sys.executable, "-m", "trainables", "alpha=-1"], capture_output=True, text=True, timeout=120
    )
    assert (
        bad.returncode == 2
        and bad.stderr.strip() == "trainables: error: alpha: must be a finite number >= 0; got -1.0"
    )
