"""The driver's Ray session: starting or joining Ray, what Ray prints meanwhile, stopping it, and where it
stores a sweep.

Much here leans on how Ray behaves rather than on its documented API (its C++
client's logging on fd 2, the handlers of its Python loggers, a private handle
on the processes a local Ray started), so a Ray upgrade is checked here.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import ray
from ray.exceptions import AuthenticationError

from trainables.errors import first_line

from .errors import UserError
from .ray_internals import NO_WORKER_PRESTART, autoscaler_view, drop_tunes_resume_hint, kill_local_monitor

DEFAULT_STORAGE = (
    "mixup_tune_results"  # Ray's storage for trial checkpoints and results, under the working directory
)
T = TypeVar("T")


def connect_ray(address: str | None, runtime_env: dict[str, Any] | None = None) -> None:
    """Join the cluster at ``address``, or start a local Ray; once per process. ``runtime_env`` is the
    sweep's Ray runtime environment (its plugins' files, shipped to every worker)."""
    if ray.is_initialized():
        return
    drop_tunes_resume_hint()
    # The classic reporter: one compact table of the sweep's axes and errors, not a box per result.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    try:
        # Trial stdout stays in Ray's session logs; the driver shows the progress table.
        with _stderr_kept_unless_failing(enabled=address is not None):
            local: dict[str, Any] = dict(NO_WORKER_PRESTART) if address is None else {}
            ray.init(
                address=address,
                include_dashboard=False,
                logging_level=logging.WARNING,
                log_to_driver=False,
                runtime_env=runtime_env or None,
                **local,
            )
    except (AuthenticationError, ConnectionError, RuntimeError, ValueError) as error:
        reason = first_line(error)
        if address is not None and "RAY_AUTH_MODE" not in os.environ:
            reason += (
                " (a cluster started with `ray start` needs RAY_AUTH_MODE=token and its token,"
                " in RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH)"
            )
        raise UserError(f"cannot connect to Ray at {address or 'a new local instance'}: {reason}") from None


class RayStarted:
    """What ``work`` may wait for in ``start_local_ray_while``: Ray up and the checks on it passed."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.passed = False

    def wait(self) -> bool:
        """Block until Ray has started and ``then`` ran; whether both succeeded."""
        self._event.wait()
        return self.passed


def start_local_ray_while(
    work: Callable[[RayStarted], T],
    then: Callable[[], None] | None = None,
    undo: Callable[[T], None] | None = None,
    runtime_env: dict[str, Any] | None = None,
) -> T:
    """Start a local Ray on this thread, then run ``then`` (checks that need Ray), while ``work`` runs on
    another; return what ``work`` returns. ``work`` may wait for Ray and ``then`` (``RayStarted.wait``).
    Should Ray or ``then`` fail after ``work`` succeeded, ``undo`` is given what it returned.

    Ray starts here because ``ray.init`` from another thread hangs its tasks.
    What Ray logs while it starts is held back until ``work`` has succeeded,
    and dropped if it raises, so that bad input still gets one line.
    """
    started = RayStarted()
    with ThreadPoolExecutor(max_workers=1) as pool, _ray_logs_held() as release:
        done = pool.submit(work, started)
        try:
            connect_ray(None, runtime_env)
            if then is not None:
                then()
            started.passed = True
        except BaseException:
            started._event.set()  # work never waits for good: on a failure here it learns so, and stops
            if undo is not None and done.exception() is None:
                undo(done.result())
            raise
        finally:
            started._event.set()
        result = done.result()
        release()
    return result


def check_cluster_fits(cpu: float, gpu: float, say: Callable[[str], None]) -> None:
    """On a cluster: refuse, in one line, a trial that no node can hold, unless the cluster autoscales, which
    is said once (the trials then wait, PENDING, for a node that can).

    Whether it autoscales, Ray tells two ways. An autoscaler that reports its node groups to Ray (KubeRay's,
    autoscaler v2) gives their resources, so a trial no node type could hold is refused too. Ray's classic
    autoscaler publishes a status report whose node types, on a cluster of `ray start` nodes that cannot
    grow, are its nodes themselves (``node_<id>``: the read-only provider); any other node type, or a
    launch pending, means it can add nodes (what they hold is in its config file, not in Ray: not checked).
    """
    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    if _holds(nodes, cpu, gpu):
        return
    asked = f"{cpu:g} CPU" + (f" and {gpu:g} GPU" if gpu else "")
    largest = ", ".join(
        f"{key} {max((n.get(key, 0.0) for n in nodes), default=0.0):g}" for key in ("CPU", "GPU")
    )
    groups = _autoscaler_node_groups()
    if groups is None:
        raise UserError(
            f"resources: each trial asks for {asked}, but no node of the cluster has that (at most "
            f"{largest}) and it does not autoscale; lower resources.cpu or resources.gpu, or add a node that "
            "has them"
        )
    if groups and not _holds(groups, cpu, gpu):
        raise UserError(
            f"resources: each trial asks for {asked}, but no node of the cluster has that (at most "
            f"{largest}) and none of the node types its autoscaler can add has it either"
        )
    say(
        f"no node of the cluster can hold a trial ({asked}) yet; it autoscales, so the trials wait, PENDING, "
        "for a node that can"
    )


def _holds(nodes: list[dict[str, float]], cpu: float, gpu: float) -> bool:
    """Whether one of ``nodes`` (resources by name) holds a trial: a trial never spans nodes."""
    return any(node.get("CPU", 0.0) >= cpu and node.get("GPU", 0.0) >= gpu for node in nodes)


def _autoscaler_node_groups() -> list[dict[str, float]] | None:
    """The node types the cluster's autoscaler can add (empty: it can, of types Ray does not know), or None
    when the cluster cannot grow."""
    return autoscaling_node_groups(*autoscaler_view())


def autoscaling_node_groups(
    groups: list[tuple[dict[str, float], int]], report: dict[str, Any] | None
) -> list[dict[str, float]] | None:
    """``_autoscaler_node_groups`` from what Ray holds: the reported node groups (resources, most nodes; -1
    for no limit) and the classic autoscaler's status report."""
    if groups:
        return [resources for resources, most in groups if most != 0]
    report = report or {}
    types = set((report.get("node_type_mapping") or {}).values())
    grows = any(not name.startswith("node_") for name in types)  # the read-only provider's types: its nodes
    return [] if grows or report.get("pending_launches") or report.get("pending_nodes") else None


def check_trials_fit(cpu: float, gpu: float) -> None:
    """Refuse, in one line, a trial that no node of a local Ray can ever hold: Ray would leave every trial
    PENDING for good. A node's whole resources count (a trial never spans nodes), not what is free now."""
    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    for key, asked in (("CPU", cpu), ("GPU", gpu)):
        most = max((node.get(key, 0.0) for node in nodes), default=0.0)
        if asked > most:
            raise UserError(
                f"resources.{key.lower()}: each trial asks for {asked:g} {key}, but this machine's Ray has "
                f"{most:g}; lower resources.{key.lower()}"
                + (" or set gpu: 0 (or auto)" if key == "GPU" else "")
                + ", or run on a cluster that has them (--address)"
            )


def stop_ray() -> None:
    """``ray.shutdown()``, less the second it spends on a local Ray's autoscaler monitor.

    ``ray.shutdown`` stops Ray's processes one after another, the GCS before the
    monitor. The monitor's SIGTERM handler then tries to write its exit reason
    to the GCS that is gone, until Ray gives up on it after 1 s and kills it:
    a second at the end of every command that started a sweep. A local Ray's
    monitor is killed first, through Ray's own handle on the processes it
    started; nothing is done to a cluster's.
    """
    if not ray.is_initialized():
        return
    kill_local_monitor()
    ray.shutdown()


@contextmanager
def environment(**variables: str) -> Iterator[None]:
    """Set Ray Tune's environment switches for one call, then put back what was there."""
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def storage_root(storage: str | None) -> str:
    """Ray's storage root: a cloud URI as given, a local path made absolute (trials run in other
    directories)."""
    if storage is not None and "://" in storage:
        return storage
    return str(Path(storage or DEFAULT_STORAGE).expanduser().resolve())


def experiment_dir(storage: str | None, name: str) -> str:
    """Where Ray keeps the sweep ``name``: its trials' checkpoints and results, and its experiment state."""
    return f"{storage_root(storage).rstrip('/')}/{name}"


def gpus_per_trial(requested: float | str) -> float:
    """The spec's ``resources.gpu``; ``auto`` is one GPU per trial when the cluster has GPUs."""
    if requested == "auto":
        return 1.0 if ray.cluster_resources().get("GPU", 0) > 0 else 0.0
    return float(requested)


@contextmanager
def _stderr_kept_unless_failing(enabled: bool) -> Iterator[None]:
    """Hold back what is written to stderr (by C++ too) until the block ends; drop it if the block raises.

    Joining a cluster that refuses the client, Ray's C++ GCS client logs a
    warning for every retry, for ~20 s; the one-line error says it once. Not
    for a local start: the processes it spawns would inherit the held fd.
    """
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        held.seek(0)
        sys.stderr.buffer.write(held.read())
        sys.stderr.flush()


@contextmanager
def _ray_logs_held() -> Iterator[Callable[[], None]]:
    """Hold the records Ray's Python loggers write; ``release()`` writes them. Unreleased, they are dropped.

    Ray (imported with this module) logs through the handlers of its "ray" logger.
    """
    held: list[logging.LogRecord] = []

    def hold(record: logging.LogRecord) -> bool:
        held.append(record)
        return False

    handlers = logging.getLogger("ray").handlers
    for handler in handlers:
        handler.addFilter(hold)

    def release() -> None:
        for handler in handlers:
            handler.removeFilter(hold)
        for record in held:
            logging.getLogger(record.name).handle(record)
        held.clear()

    try:
        yield release
    finally:
        for handler in handlers:
            handler.removeFilter(hold)
