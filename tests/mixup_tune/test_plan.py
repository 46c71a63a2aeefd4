"""``mixup-tune plan`` over a real sqlite store: the trials ``run`` would start and those it would skip as
FINISHED, per swept value, without starting or writing anything. No Ray. (Before and after a whole sweep:
tests/integration/test_watching.py.)"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from mlflow.tracking import MlflowClient

from mixup_tune.plan import plan_sweep
from mixup_tune.records import SweepRecord
from mixup_tune.search import grid_points, with_absolute_paths
from mixup_tune.spec import validate_spec

SPEC = validate_spec(
    {
        "name": "planned",
        "trainable": {"dataset": "digits", "model": "mlp", "epochs": 2},
        "search": {"alpha": [0, 1], "seed": [0, 1]},
    },
    source="test",
)


def test_a_finished_trial_is_skipped_and_counted_under_each_of_its_values(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    record = SweepRecord.start(
        MlflowClient(uri),
        "planned",
        "planned",
        study="generic",
        storage="",
        algorithm="grid",
        log_model=False,
    )
    # one grid point's trial FINISHED, as a sweep's driver records it
    point = next(p for p in grid_points(with_absolute_paths(SPEC)) if p["alpha"] == 1 and p["seed"] == 0)
    trial = SimpleNamespace(trial_id="p_0", config=point, num_failures=0)
    record.log_results(trial, [{"epoch": 1, "test_error": 20.0}, {"epoch": 2, "test_error": 15.0}])
    record.complete(trial, {"epoch": 2, "test_error": 15.0, "best_test_error": 15.0, "labels_changed": 0.0})

    plan = plan_sweep(SPEC, uri)
    assert (plan.total, plan.finished, plan.to_run) == (4, 1, 3)
    assert [t.setting for t in plan.trials if t.finished] == [{"alpha": 1, "seed": 0}]
    per_value = plan.per_value()
    assert per_value["alpha"] == [(0, 2, 0), (1, 1, 1)] and per_value["seed"] == [(0, 1, 1), (1, 2, 0)]
    assert "1 trials FINISHED" in plan.store


def test_a_store_that_is_not_there_is_not_made(tmp_path: Path) -> None:
    plan = plan_sweep(SPEC, f"sqlite:///{tmp_path / 'absent.db'}")
    assert (plan.total, plan.finished) == (4, 0) and "every trial runs" in plan.store
    assert list(tmp_path.iterdir()) == []
