"""The closing summary of ``run`` and ``resume``, in-process: the UI command and link it prints, and its best.

A user whose port 5000 was taken had to edit the printed link by hand; now it is the port given with
``--ui-port``, or ``$MLFLOW_PORT`` (which ``mlflow ui`` reads too), else MLflow's default 5000.
"""

from __future__ import annotations

import re

import pytest

from mixup_tune import cli
from mixup_tune.summary import print_summary
from mixup_tune.sweep_end import SweepOutcome

STORE = "sqlite:////tmp/sweeps/mlflow.db"


def _outcome(**fields: object) -> SweepOutcome:
    return SweepOutcome("quickstart", STORE, "mixup-quickstart", "3", "0" * 32, "/tmp/ray", **fields)  # type: ignore[arg-type]


def _printed(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 0, **fields: object) -> str:
    args = cli._parser().parse_args(argv)
    assert print_summary(cli.console, _outcome(**fields), args.ui_port) == code
    return capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "environment", "port"),
    [
        (["run", "sweep.yaml"], {}, 5000),
        (["run", "sweep.yaml"], {"MLFLOW_PORT": "5123"}, 5123),
        (["run", "sweep.yaml", "--ui-port", "8765"], {"MLFLOW_PORT": "5123"}, 8765),
        (["resume", "quickstart", "--ui-port", "8080"], {}, 8080),
    ],
)
def test_the_ui_command_and_its_link_use_the_port_given(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    environment: dict[str, str],
    port: int,
) -> None:
    monkeypatch.delenv("MLFLOW_PORT", raising=False)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    out = _printed(capsys, argv)
    browse = re.search(r"Browse:\s+mlflow ui --backend-store-uri (\S+) --port (\d+)\s+then (\S+)", out)
    assert browse is not None, out
    assert browse[1] == STORE and int(browse[2]) == port, out
    assert browse[3] == f"http://127.0.0.1:{port}/#/experiments/3/runs?workflowType=machine_learning"


@pytest.mark.parametrize("bad", ["0", "65536", "http", "-1", "80.5"])
def test_a_port_out_of_range_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], bad: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli._parser().parse_args(["run", "sweep.yaml", "--ui-port", bad])
    assert stopped.value.code == cli.EXIT_USAGE == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--ui-port" in err and "not a TCP port (1 to 65535)" in err, err


def test_a_bad_mlflow_port_in_the_environment_is_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_PORT", "five")
    with pytest.raises(SystemExit) as stopped:
        cli._parser().parse_args(["run", "sweep.yaml"])
    assert stopped.value.code == 2 and "'five'" in capsys.readouterr().err


def test_the_best_row_says_over_how_many_finished_trials_and_which_ran_this_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _printed(
        capsys,
        ["run", "sweep.yaml"],
        planned=4,
        skipped=12,
        completed=4,
        best=("test_error", "1.333", "alpha=1.0 label_noise=0.0"),
        finished_in_all=16,
    )
    assert re.search(r"trials run this time\s+│ 4 ", out) and re.search(r"skipped\s+│ 12 ", out), out
    assert re.search(r"best test_error of 16 finished\s+│ 1\.333 \(alpha=1\.0 label_noise=0\.0\)", out), out
    # no trial of the sweep finished: no best row (the exit code says trials failed)
    assert "best" not in _printed(capsys, ["run", "sweep.yaml"], code=1, planned=2, completed=0, failed=2)
