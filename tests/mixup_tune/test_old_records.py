"""Records written before the mixing methods became a registry stay valid: a store made by mixup-tune at
cb4b06c (tests/fixtures/store_before_registry) still has every trial of its sweep found FINISHED, so that
``run`` skips them all."""

from __future__ import annotations

import gzip
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from mixup_tune.cli import main
from mixup_tune.plan import plan_sweep
from mixup_tune.spec import load_spec

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "store_before_registry"


def old_store(directory: Path) -> str:
    """A copy of the old store, its artifact root moved beside the copy (where it would be had it been
    made there)."""
    database = directory / "mlflow.db"
    with gzip.open(FIXTURE / "mlflow.db.gz") as packed, database.open("wb") as unpacked:
        shutil.copyfileobj(packed, unpacked)
    with sqlite3.connect(database) as connection:
        connection.execute(
            "UPDATE experiments SET artifact_location = ? WHERE name = 'mixup-before-registry'",
            ((directory / "mlartifacts" / "mixup-before-registry").as_uri(),),
        )
    return f"sqlite:///{database}"


def test_every_trial_of_a_store_written_before_the_registry_is_found_finished(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = old_store(tmp_path)
    plan = plan_sweep(load_spec(FIXTURE / "sweep.yaml"), store)
    assert (plan.total, plan.finished, plan.to_run) == (12, 12, 0)
    # the same sweep with one more setting: only its two trials are new
    more = plan_sweep(load_spec(FIXTURE / "sweep.yaml", ["variants=" + _with_one_more_variant()]), store)
    assert (more.total, more.finished, more.to_run) == (14, 12, 2)
    assert main(["plan", str(FIXTURE / "sweep.yaml"), "--tracking-uri", store]) == 0
    assert re.search(r"trials `run` starts\s*│\s*0\s", capsys.readouterr().out)


def _with_one_more_variant() -> str:
    variants = yaml.safe_load((FIXTURE / "sweep.yaml").read_text())["variants"]
    return yaml.safe_dump([*variants, {"alpha": 2, "mix_method": "manifold_mixup"}], default_flow_style=True)
