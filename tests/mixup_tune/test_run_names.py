"""Trial runs are named by their setting in the MLflow UI (``alpha=1 label_noise=0.4 seed=0``), not by Ray's
trial id (``quickstart-8d49e_00003``), which said nothing of what a run is. Over a real sqlite store.

The sweeps of test_sweep_integration.py check the names under a real Ray, across a re-run and a grown sweep.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from mlflow.tracking import MlflowClient

from mixup_tune.records import SweepRecord
from mixup_tune.records.store import MAX_RUN_NAME, setting_name, swept_in

DOCUMENT = {
    "name": "names",
    "search": {"alpha": {"grid": [0.0, 1.0]}, "optimizer.lr": {"loguniform": [1e-4, 1e-1]}},
    "variants": [{"label_noise": 0.4, "mix_method": "cutmix", "schedule": {"name": "constant"}}],
}


def _trial(trial_id: str, **config: object) -> SimpleNamespace:
    return SimpleNamespace(trial_id=trial_id, config={"dataset": "digits", **config}, num_failures=0)


def _record(tmp_path: Path) -> tuple[SweepRecord, MlflowClient]:
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    record = SweepRecord.start(
        client, "names", "names", study="generic", storage="", algorithm="random", log_model=False
    )
    return record, client


def test_the_swept_options_are_read_flat_from_the_sweep_document() -> None:
    assert swept_in(DOCUMENT) == ["alpha", "optimizer.lr", "label_noise", "mix_method", "schedule.name"]
    assert swept_in({"name": "one trial"}) == []


def test_a_trial_run_is_named_by_its_setting_and_keeps_the_name_when_reopened(tmp_path: Path) -> None:
    record, client = _record(tmp_path)
    record.save_spec(DOCUMENT)
    setting = {"alpha": 1.0, "optimizer": {"lr": 0.0031622776601683794}, "label_noise": 0.4}
    first = record.run_id(_trial("8d49e_00003", **setting, mix_method="cutmix"))
    name = "alpha=1 optimizer.lr=0.003162 label_noise=0.4 mix_method=cutmix schedule.name=constant"
    assert client.get_run(first).info.run_name == name

    # resumed by another driver: Ray's trial id differs; the run (found by its trial key) and its name do not
    again, _ = _record(tmp_path)
    assert again.run_id(_trial("0a1b2_00000", **setting, mix_method="cutmix")) == first
    assert client.get_run(first).info.run_name == name
    # a driver that never saved the spec (``sync``) reads the swept options from the one saved before
    other = again.run_id(_trial("0a1b2_00001", **{**setting, "alpha": 0.0}, mix_method="cutmix"))
    assert client.get_run(other).info.run_name == name.replace("alpha=1", "alpha=0")


def test_a_sweep_that_varies_nothing_names_its_trial_by_the_sweep_and_its_key(tmp_path: Path) -> None:
    record, client = _record(tmp_path)
    record.save_spec({"name": "names"})
    run_id = record.run_id(_trial("8d49e_00000", alpha=1.0))
    name = client.get_run(run_id).info.run_name
    assert name.startswith("names-") and len(name) == len("names-") + 8 and "8d49e" not in name


def test_a_name_past_mlflows_limit_is_cut_and_still_tells_trials_apart() -> None:
    swept = ["data_path", "hidden_sizes", "alpha"]  # a long path swept: the settings differ at the end only
    path = "/" + "data/" * 60 + "train.csv"
    configs = [
        {"dataset": "csv", "data_path": path, "label_column": "y", "hidden_sizes": [256, 256], "alpha": a}
        for a in (0.0, 1.0)
    ]
    names = [setting_name(config, swept) for config in configs]
    assert all(len(name) == MAX_RUN_NAME for name in names) and names[0] != names[1], names
    assert names[0].startswith("data_path=/data/data/") and "… " in names[0]
    # short ones whole, lists compact, and options a config lacks left out
    assert (
        setting_name(configs[1], ["hidden_sizes", "alpha", "mix.cut_ratio"])
        == "hidden_sizes=[256,256] alpha=1"
    )
