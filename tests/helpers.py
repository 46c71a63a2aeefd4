"""What the tests share besides fixtures: the repository and CLI paths, small data writers, ports, processes
and
MLflow servers. Imported as ``from helpers import ...`` (tests/ is on the path), never from conftest."""

from __future__ import annotations

import atexit
import contextlib
import functools
import io
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).parent / "mixup-tune")  # the installed console script, as users run it


def shared_datasets() -> Path:
    """``$MIXUP_TUNE_DATA``, else ``../shared/datasets`` beside the repository."""
    return Path(os.environ.get("MIXUP_TUNE_DATA") or REPO.parent / "shared" / "datasets")


def write_image_folder(
    root: Path,
    classes: int = 8,
    train: int = 6,
    test: int = 3,
    test_split: str = "test",
    varied_sizes: bool = False,
) -> Path:
    """A tiny ImageFolder tree of JPEGs, ``root/{train,<test_split>}/<class>/``: a learnable colour per class,
    32x32 pixels, or sizes from 20 to 47 pixels per side (which the in-memory ``imagefolder`` refuses)."""
    from PIL import Image

    generator = np.random.default_rng(0)
    for split, count in (("train", train), (test_split, test)):
        for label in range(classes):
            folder = root / split / f"n{label:08d}"
            folder.mkdir(parents=True)
            for i in range(count):
                height, width = generator.integers(20, 48, 2) if varied_sizes else (32, 32)
                pixels = generator.integers(0, 60, (height, width, 3)) + (200 // classes) * label
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i}.JPEG")
    return root


def start_sweep(
    directory: Path, spec_file: str, args: list[str], env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    """`mixup-tune run` in the background, in a session of its own (``kill_session`` stops it and its Ray);
    stdout and stderr together, as text. ``env`` is added to this process's environment."""
    return subprocess.Popen(
        [CLI, "run", spec_file, *args],
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )


def shared_ray() -> None:
    """A local Ray for this test process, started as `mixup-tune run` starts one (``connect_ray``), unless
    one runs already; started from the repository, whose directory outlives every test's. The conftest
    stops it after each test module, so a module never sees another's Ray."""
    from mixup_tune.ray_session import connect_ray

    with contextlib.chdir(REPO):
        connect_ray(None)


def cli_in_process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``mixup-tune ARGS`` called in this test process, in ``cwd``: stdout and stderr as text, and the exit
    code. A subprocess adds its imports (3 to 4 s on a 2-core machine) and, for ``run`` and ``resume``, a
    local Ray's start (another 4 to 6 s); here ``run`` and ``resume`` share the module's Ray
    (``shared_ray``). The tests of what a user's shell sees (one line on stderr, exit 2, signals, plugins
    imported into a fresh interpreter) keep a real process."""
    from mixup_tune.cli import main

    if args and args[0] in ("run", "resume"):
        shared_ray()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse's --version, --help and usage errors
            code = exit_.code if isinstance(exit_.code, int) else 1
    return subprocess.CompletedProcess(["mixup-tune", *args], code, out.getvalue(), err.getvalue())


def run_spec(
    directory: Path, spec: dict, uri: str, expect: int = 0, args: tuple[str, ...] = ("--quiet",)
) -> subprocess.CompletedProcess[str]:
    """Write ``spec`` (a dict) as ``directory/<name>.yaml`` and `mixup-tune run` it against ``uri``; assert
    its exit code is ``expect``; the finished run, stdout and stderr as text. In this process on the
    module's Ray, unless the spec names plugins: those are imported into a fresh interpreter, as a user's
    are, and a subprocess keeps one test's plugin modules out of the next test's registries."""
    import yaml

    (directory / f"{spec['name']}.yaml").write_text(yaml.safe_dump(spec))
    command = ["run", f"{spec['name']}.yaml", *args, "--tracking-uri", uri]
    if spec.get("plugins"):
        done = subprocess.run([CLI, *command], cwd=directory, capture_output=True, text=True, timeout=300)
    else:
        done = cli_in_process(*command, cwd=directory)
    assert done.returncode == expect, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def run_and_analyze(directory: Path, spec_text: str) -> str:
    """Write the sweep file, then `mixup-tune run` it and `analyze` it into ``directory/out`` on a new sqlite
    store, both in this process; return the store's URI."""
    import yaml

    (directory / "sweep.yaml").write_text(spec_text)
    name = yaml.safe_load(spec_text)["name"]
    uri = f"sqlite:///{directory / 'mlflow.db'}"
    for command in (["run", "sweep.yaml", "--quiet"], ["analyze", name, "--out", "out"]):
        done = cli_in_process(*command, "--tracking-uri", uri, cwd=directory)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return uri


# above Ray's worker ports (10002-19999), below the kernel's ephemeral ports (32768-60999)
_PORT_RANGE = (
    20000,
    32000,
)


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that are free now, outside the range the kernel hands out for port 0.

    Ports taken with port 0 and released could be handed straight back to a
    Ray component that binds port 0 itself, which Ray then refuses as one
    port used twice ("trying to use a port number ... used by other
    components"): a flaky cluster start. All sockets stay bound until every
    port is chosen, so the ports are distinct too.
    """
    rng = random.Random()
    held: list[socket.socket] = []
    try:
        while len(held) < count:
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", rng.randrange(*_PORT_RANGE)))
            except OSError:  # in use: draw another
                sock.close()
                continue
            held.append(sock)
        return [sock.getsockname()[1] for sock in held]
    finally:
        for sock in held:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


def tie_to_this_process(
    server_pid: int, stop_signal: int = signal.SIGTERM, directory: Path | None = None
) -> None:
    """A watchdog (tests/watchdog.py) stops the server whose process group ``server_pid`` leads if this test
    process dies first, however it dies (a time-out's SIGKILL runs no teardown): nothing outlives the
    tests."""
    subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("watchdog.py")), str(os.getpid()), str(server_pid)]
        + [str(int(stop_signal)), *([str(directory)] if directory else [])],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # out of this process's group: a kill of the group leaves the watchdog
    )


def session_members(session: int) -> list[int]:
    """The ids of every live process of a session, read from /proc (as ``ps -s SESSION`` lists them); not
    the zombies, which are dead and only wait for their parent to read their exit status."""
    members = []
    for proc in Path("/proc").iterdir():
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split() if proc.name.isdigit() else []
            if fields and fields[0] != "Z" and int(fields[3]) == session:
                members.append(int(proc.name))
        except (OSError, ValueError, IndexError):  # gone meanwhile
            continue
    return members


def command_line(pid: int) -> bytes:
    """A process's command line as it shows it, empty once it is gone. Ray's workers retitle themselves:
    ``ray::ImplicitFunc.train``."""
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return b""


def kill_session(session: int) -> int:
    """SIGKILL every process of a session (a process started with ``start_new_session=True`` leads one).

    All are found before the first is killed: Ray's agents and workers outlive
    their parent, then keep the session but not the parent. Returns how many.
    """
    members = session_members(session)
    for pid in members:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(members)


@functools.cache
def _migrated_database() -> Path:
    """An empty MLflow database with every schema migration applied, made once per test session.

    A server on a new sqlite file spends seconds migrating it; each server
    here starts from a copy of this one instead (its own file, as before).
    """
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    directory = Path(tempfile.mkdtemp(prefix="mixup-tune-mlflow-template-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    SqlAlchemyStore(f"sqlite:///{directory / 'server.db'}", str(directory / "artifacts")).engine.dispose()
    return directory / "server.db"


def start_mlflow_server(
    root: Path,
    port: int | None = None,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    backend: str | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """A real ``mlflow server`` on a loopback port, with its own artifact root in ``root`` and a sqlite
    backend there too, or the database ``backend`` names (``PostgresServer.new_database``)."""
    port = port or free_port()
    # Without the server's job runner (GenAI scoring, trace archival), which mixup-tune does not use: one
    # process fewer, started 1.2 s sooner (5.3 s against 4.1 s on this 2-core machine).
    env = {**(os.environ if env is None else env), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    if backend is None and not (root / "server.db").exists():
        shutil.copyfile(_migrated_database(), root / "server.db")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            backend or f"sqlite:///{root / 'server.db'}",
            "--artifacts-destination",
            str(root / "server-artifacts"),
            "--workers",
            "1",
            *extra_args,
        ],
        stdout=subprocess.DEVNULL,
        env=env,
        stderr=(root / "server.log").open("ab"),
        start_new_session=True,
    )
    tie_to_this_process(process.pid)
    return process, _healthy(process, f"http://127.0.0.1:{port}", root / "server.log")


def start_mlflow_ui(
    store_uri: str, log: Path, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """``mlflow ui`` over a store, on a loopback port (a free one unless given), as a user starts it after a
    sweep (``stop_server`` stops it)."""
    port = port or free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", store_uri]
        + ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        stderr=log.open("ab"),
        start_new_session=True,
    )
    tie_to_this_process(process.pid)
    return process, _healthy(process, f"http://127.0.0.1:{port}", log)


def _healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> str:
    """``url`` once its /health answers; the process killed and its log's end raised if it never does."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return url
        except OSError:
            time.sleep(0.5)
        if process.poll() is not None:
            break
    process.kill()
    raise RuntimeError(f"mlflow did not start: {log.read_text()[-2000:]}")


# MLflow's storage modes, as Optuna's STORAGE_MODES. sqlite: MLflow's embedded default; server: `mlflow
# server` on sqlite; postgres: `mlflow server` on PostgreSQL.
STORAGE_MODES = ("sqlite", "server", "postgres")


def storage_matrix() -> list[Any]:
    """The storage modes as pytest parameters, for the tests of what depends on storage (the record
    contract, the lease, resume, the outage): sqlite in ``make test``, the two servers in the slow tier
    (``make test-slow``, which CI runs too), where each costs a server's start and its round trips."""
    import pytest

    return [
        pytest.param(mode, id=mode, marks=() if mode == "sqlite" else pytest.mark.slow)
        for mode in STORAGE_MODES
    ]


@contextlib.contextmanager
def tracking_store(mode: str, root: Path) -> Iterator[str]:
    """A fresh MLflow store of ``mode`` in ``root``: its tracking URI, and the server stopped at the end."""
    if mode == "sqlite":
        yield f"sqlite:///{root / 'mlflow.db'}"
        return
    backend = postgres_server().new_database() if mode == "postgres" else None
    process, url = start_mlflow_server(root, backend=backend)
    try:
        yield url
    finally:
        stop_server(process)


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop an ``mlflow server`` from ``start_mlflow_server`` (its whole process group), if it still runs."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


# PostgreSQL: Debian's server, run by the tests themselves (no system service).

REQUIRE_POSTGRES = "MIXUP_TUNE_REQUIRE_POSTGRES"  # set (CI does): no PostgreSQL fails instead of skipping


def _postgres_program(name: str) -> str | None:
    """A PostgreSQL program: on the PATH, else where Debian's packages put it (newest version first)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    return str(candidates[-1]) if candidates else None


class PostgresServer:
    """One PostgreSQL server per test process, in a temporary directory, on a loopback port of its own.

    Started by ``initdb`` and ``pg_ctl`` (as the ``postgres`` user when the tests run as root: the server
    refuses root), with fsync off (nothing here must survive a power cut), stopped at the process's exit.
    Each tracking store is a database of its own, copied from a template that MLflow's migrations were
    applied to once (they take seconds; a copy takes milliseconds).
    """

    TEMPLATE = "mlflow_template"

    def __init__(self) -> None:
        initdb, self.pg_ctl = _postgres_program("initdb"), _postgres_program("pg_ctl")
        if initdb is None or self.pg_ctl is None:
            raise FileNotFoundError(
                "no PostgreSQL server programs (initdb, pg_ctl): `apt-get install postgresql` (.ci/run does)"
            )
        # not under pytest's temporary directory: as root that is closed to the postgres user
        self.directory = Path(tempfile.mkdtemp(prefix="mixup-tune-postgres-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self._run(initdb, "-D", str(self.data), "-U", "mlflow", "--auth=trust", "-E", "UTF8", "--no-sync")
        self._databases = 0
        self.start()
        try:
            from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

            self._sql(f"CREATE DATABASE {self.TEMPLATE}")
            SqlAlchemyStore(self.url(self.TEMPLATE), str(self.directory / "artifacts")).engine.dispose()
        except BaseException:
            self.remove()
            raise

    def _run(self, *command: str) -> None:
        subprocess.run([*self._as_user, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory} -c fsync=off"
        log = str(self.directory / "server.log")
        self._run(self.pg_ctl, "-D", str(self.data), "-o", options, "-l", log, "-w", "start")
        # SIGQUIT: PostgreSQL's immediate shutdown, its backends with it; the directory goes after
        tie_to_this_process(self.postmaster_pid(), signal.SIGQUIT, self.directory)

    def postmaster_pid(self) -> int:
        """The running server's process (``pg_ctl`` starts it in a session and process group of its own)."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        """Stop at once (``-m immediate``): as a crash would, for the outage test; a no-op when stopped."""
        if (self.data / "postmaster.pid").exists():
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql://mlflow@127.0.0.1:{self.port}/{database}"

    def _sql(self, statement: str) -> None:
        import psycopg

        # autocommit: CREATE DATABASE runs outside a transaction
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(statement)  # type: ignore[arg-type]  # our own literal statements

    def new_database(self) -> str:
        """A new, migrated, empty MLflow database: its URL."""
        self._databases += 1
        name = f"mlflow_{self._databases}"
        self._sql(f"CREATE DATABASE {name} TEMPLATE {self.TEMPLATE}")
        return self.url(name)


@functools.cache
def postgres_server() -> PostgresServer:
    """This test process's PostgreSQL server, started on first use (the ``postgres`` storage mode)."""
    try:
        server = PostgresServer()
    except FileNotFoundError as error:
        import pytest

        if os.environ.get(REQUIRE_POSTGRES):
            pytest.fail(f"{error} ({REQUIRE_POSTGRES} is set)", pytrace=False)
        pytest.skip(str(error))
    atexit.register(server.remove)
    return server
