"""A tracking server behind MLflow's basic authentication: the sweep logs with the user's credentials,
never records them, and wrong credentials get one line and exit code 2 before anything runs."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import CLI, start_mlflow_server
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.integration

SPEC = """\
name: {name}
trainable: {{dataset: digits, model: mlp, hidden_sizes: [16], epochs: 2, batch_size: 256}}
search: {{alpha: [0, 1]}}
resources: {{cpu: 1, gpu: 0}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    root = tmp_path_factory.mktemp("auth")
    password = secrets.token_hex(16)
    config = root / "basic_auth.ini"
    config.write_text(
        f"[mlflow]\ndefault_permission = READ\ndatabase_uri = sqlite:///{root / 'users.db'}\nadmin_username "
        "= admin\n"
        f"admin_password = {password}\nauthorization_function = "
        "mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    process, uri = start_mlflow_server(
        root,
        extra_args=("--app-name", "basic-auth"),
        env={
            **os.environ,
            "MLFLOW_AUTH_CONFIG_PATH": str(config),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
        },
    )
    try:
        yield uri, password, root
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _run(uri: str, user: str, password: str, name: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    (workdir / "spec.yaml").write_text(SPEC.format(name=name))
    env = {**os.environ, "MLFLOW_TRACKING_USERNAME": user, "MLFLOW_TRACKING_PASSWORD": password}
    return subprocess.run(
        [CLI, "run", "spec.yaml", "--tracking-uri", uri, "--quiet"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_sweep_logs_with_the_users_credentials_and_never_records_them(
    server: tuple[str, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, password, root = server
    result = _run(uri, "admin", password, "authenticated", tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    client = MlflowClient(uri)
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], "tags.`mixup_tune.sweep` = 'authenticated'"
    )
    assert len(runs) == 3 and {r.info.status for r in runs} == {"FINISHED"}, "the parent and two trials"
    recorded = [result.stdout, result.stderr] + [
        text for r in runs for text in (*r.data.params.values(), *r.data.tags.values())
    ]
    assert not [text for text in recorded if password in text]
    assert not [
        p
        for p in (root / "server-artifacts").rglob("*")
        if p.is_file() and password.encode() in p.read_bytes()
    ]


def test_wrong_credentials_get_one_line_and_nothing_runs(
    server: tuple[str, str, Path], tmp_path: Path
) -> None:
    uri, _, _ = server
    result = _run(uri, "admin", "not-the-password", "refused", tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "refused the credentials" in result.stderr, result.stderr
    assert not (tmp_path / "mixup_tune_results").exists()
