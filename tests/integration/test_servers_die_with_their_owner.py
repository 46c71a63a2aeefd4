"""Servers the tests start die with the test process that started them, however it dies.

A ``make test`` killed from outside (a time-out's SIGKILL) once left an ``mlflow server`` and two PostgreSQL
servers running for 35 to 50 minutes: a SIGKILL runs no ``atexit`` and no fixture's teardown. Each server
now has a watchdog (tests/watchdog.py). Here a process starts both kinds through the helpers every test
uses, and is killed with SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import REQUIRE_POSTGRES, _postgres_program

pytestmark = pytest.mark.integration

OWNER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from helpers import postgres_server, start_mlflow_server

server, url = start_mlflow_server(Path(sys.argv[1]))
postgres = postgres_server() if sys.argv[2] == "postgres" else None
postmaster, directory = (postgres.postmaster_pid(), postgres.directory) if postgres else (0, "")
print(server.pid, url, postmaster, directory, flush=True)
time.sleep(600)
"""


def _group_alive(leader: int) -> bool:
    try:
        os.killpg(leader, 0)
    except ProcessLookupError:
        return False
    return True


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2):
            return True
    except OSError:
        return False


def test_a_sigkilled_owners_mlflow_server_and_postgresql_are_gone(tmp_path: Path) -> None:
    with_postgres = _postgres_program("initdb") is not None
    if not with_postgres and os.environ.get(REQUIRE_POSTGRES):
        pytest.fail(f"no PostgreSQL server programs ({REQUIRE_POSTGRES} is set)", pytrace=False)
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER.format(tests=str(Path(__file__).parents[1])), str(tmp_path)]
        + ["postgres" if with_postgres else "none"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        fields = owner.stdout.readline().split()  # type: ignore[union-attr]  # once both servers answer
        assert len(fields) == 4 or (len(fields) == 3 and not with_postgres), fields
        mlflow_pid, url, postmaster = int(fields[0]), fields[1], int(fields[2])
        directory = Path(fields[3]) if with_postgres else None
        assert _group_alive(mlflow_pid) and _answers(url)
        assert not with_postgres or (
            _group_alive(postmaster) and directory is not None and directory.exists()
        )
    finally:
        os.kill(owner.pid, signal.SIGKILL)  # no handler, no atexit, no teardown runs
        owner.wait(timeout=30)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
        _group_alive(mlflow_pid) or (with_postgres and (_group_alive(postmaster) or directory.exists()))  # type: ignore[union-attr]
    ):
        time.sleep(0.2)
    assert not _group_alive(mlflow_pid) and not _answers(url), "the mlflow server outlived its owner"
    if with_postgres:
        assert not _group_alive(postmaster), "PostgreSQL outlived its owner"
        assert directory is not None and not directory.exists(), "its data directory was left behind"
