"""Shared fixtures: the offline datasets, small synthetic data, and isolated MLflow stores (helpers:
tests/helpers.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import shared_datasets, storage_matrix, tracking_store

# What `mixup-tune run` sets for a new local Ray (cli.main), here before Ray is first imported: Ray reads it
# then, and a local Ray that an in-process sweep starts later (helpers.shared_ray) starts its GCS with this
# process's environment. Set only after some test had imported Ray, the GCS asked for a token the driver
# never sent, and Ray said "Failed to start GCS" (seen in a fresh clone's make test).
os.environ.setdefault("RAY_AUTH_MODE", "token")

# set (CI does): the real-data tier fails instead of skipping when the data is absent
REQUIRE_DATA = "MIXUP_TUNE_REQUIRE_DATA"


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The real-data tier: tests of the studies' findings on the offline datasets.

    Without them (a fresh clone with nothing beside it) these tests skip, with
    one line saying how to get the data; with ``MIXUP_TUNE_REQUIRE_DATA=1``
    (``.ci/run``) they fail instead, so the tier is never skipped silently.
    """
    path = shared_datasets()
    if not path.is_dir() or not any(path.iterdir()):
        message = (
            f"real-data tier: no offline datasets at {path}; set MIXUP_TUNE_DATA to them, "
            "or fetch them as docs/sweep-files.md's 'Getting the datasets' says"
        )
        if os.environ.get(REQUIRE_DATA):
            pytest.fail(f"{message} ({REQUIRE_DATA} is set)", pytrace=False)
        pytest.skip(message)
    return path


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("MIXUP_TUNE_CACHE", str(cache))
    return cache


@pytest.fixture
def colour_npz(tmp_path: Path) -> Path:
    """A tiny 32x32 colour dataset, so that augmentation, BatchNorm and dropout all run."""
    rng = np.random.default_rng(0)
    path = tmp_path / "colour.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 256, (48, 3, 32, 32), dtype=np.uint8),
        y_train=rng.integers(0, 4, 48),
        x_test=rng.integers(0, 256, (16, 3, 32, 32), dtype=np.uint8),
        y_test=rng.integers(0, 4, 16),
    )
    return path


@pytest.fixture(params=storage_matrix(), scope="module")
def tracking_uri(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh MLflow store per module and storage mode: MLflow's embedded sqlite store (``make test``), and
    a tracking server on sqlite and on PostgreSQL (the slow tier, ``make test-slow``)."""
    with tracking_store(request.param, tmp_path_factory.mktemp(f"mlflow-{request.param}")) as uri:
        yield uri


@pytest.fixture(autouse=True)
def plugins_loaded_by_a_test_stay_in_it() -> Iterator[None]:
    """A sweep ships every plugin its process imported (``mixup_tune.provenance.sweep_plugins``): right for
    the command, one sweep per process, but in this process a plugin a test imported would follow every
    later in-process sweep to its workers. So each test forgets the plugins it imported; their classes stay
    registered under their own names, as a second import would find them."""
    from trainables import plugins

    before = dict(plugins._LOADED)
    yield
    plugins._LOADED.clear()
    plugins._LOADED.update(before)


@pytest.fixture(scope="module", autouse=True)
def ray_stopped_after_module() -> Iterator[None]:
    """A local Ray a module's in-process sweeps started (``helpers.shared_ray``) is stopped when the module
    ends: the next module, or a unit test in the same worker, starts from no Ray, as a fresh process
    would."""
    yield
    if "ray" in sys.modules:
        from mixup_tune.ray_session import stop_ray

        stop_ray()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with integration tests (real sweeps, tens of seconds) first: under ``-n 2`` the short unit
    tests then fill in at the end, instead of one process finishing a long file alone. Tests of the
    offline datasets are marked ``real_data`` (``pytest -m real_data`` runs that tier alone)."""
    for item in items:
        if "datasets_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.real_data)
    slow_files = {item.path for item in items if item.get_closest_marker("integration") is not None}
    items.sort(key=lambda item: item.path not in slow_files)
