"""One driver per sweep: a lease on the sweep's parent run, kept alive by a heartbeat.

Two drivers writing one sweep disturb each other (the second reconciles the
first's RUNNING runs, restores over its Ray state, and the first ends
interrupted), so a driver leases the sweep before it writes anything and
keeps the lease alive with a heartbeat tag on the parent run
(``tags.LEASE``: who holds it, and when it last beat). Another driver that
finds a live lease refuses, in one line; a lease whose driver is gone is taken
over:

- on the same machine (same host name, boot and process namespace) the holder's
  process id answers at once whether it is still alive, so ``resume`` straight
  after a ``kill -9`` of the driver goes ahead;
- from another machine only the heartbeat tells: a lease that has not beaten
  for its time to live (``MIXUP_TUNE_LEASE_TTL_S``, 60 s) has lapsed. ``run``
  refuses a lease that has not lapsed; ``resume`` says so once and waits, and
  refuses if the heartbeat moves while it waits (its driver is alive).

The heartbeat's age is read against this machine's clock, so machines whose
clocks differ by more than the time to live would misjudge it (a Ray cluster's
nodes keep theirs in step). MLflow has no compare-and-set: two drivers that
take a free lease within a few milliseconds of each other are told apart by
reading it back ``SETTLE_S`` later, and the one whose token is gone refuses.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil
from mlflow.tracking import MlflowClient

from ..errors import UserError
from . import tags
from .store import find_runs

DEFAULT_TTL_S = 60.0  # a lease that has not beaten for this long (s) has lapsed
TTL_VARIABLE = "MIXUP_TUNE_LEASE_TTL_S"
HOST_VARIABLE = "MIXUP_TUNE_HOST"  # this machine's name in a lease, where the host name is not unique
BEATS_PER_TTL = 4  # heartbeats per time to live: three may be lost before the lease lapses
SETTLE_S = 0.5  # (s) between taking a lease and reading it back: a racing driver's write lands by then


class LeaseHeld(UserError):
    """Another driver holds the sweep: one line, exit code 2."""


def lease_ttl_s() -> float:
    text = os.environ.get(TTL_VARIABLE, "")
    if not text:
        return DEFAULT_TTL_S
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise UserError(
            f"{TTL_VARIABLE}={text!r}: the lease's time to live must be a positive number of seconds"
        )
    return value


def _process_space() -> str:
    """Which process ids this driver can see: the boot and the pid namespace. Two containers can share a
    host name (host networking) but not both of these."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}:{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:  # no /proc (macOS): the host name alone
        return ""


@dataclass(frozen=True)
class Holder:
    """Who holds a sweep's lease, as its tag records it."""

    token: str  # this lease's own id: a driver that finds another token has lost it
    host: str
    space: str  # _process_space() on the holder's machine
    pid: int
    pid_started: float  # the process's start time (s since the epoch), so that a reused pid is not mistaken
    heartbeat: float  # when it last beat (s since the epoch, the holder's clock)
    ttl_s: float

    @classmethod
    def parse(cls, text: str | None) -> Holder | None:
        if not text:
            return None
        try:
            return cls(**json.loads(text))
        except (TypeError, ValueError):  # not a lease this version wrote: treated as none
            return None

    def text(self) -> str:
        return json.dumps(asdict(self))

    def describe(self) -> str:
        return f"its driver on {self.host} (pid {self.pid})"

    def is_local(self) -> bool:
        return self.host == this_host() and self.space == _process_space()

    def process_alive(self) -> bool:
        """On the holder's own machine: whether its process still runs (not merely a new one with its pid)."""
        try:
            started = psutil.Process(self.pid).create_time()
        except psutil.Error:  # no such process, or not ours to read: a zombie or gone
            return False
        return abs(started - self.pid_started) < 1.0


def this_host() -> str:
    return os.environ.get(HOST_VARIABLE) or socket.gethostname()


def _say(line: str) -> None:
    print(f"mixup-tune: {line}", file=sys.stderr, flush=True)


def _holder(client: MlflowClient, sweep: str) -> tuple[str, Holder] | None:
    """The sweep's parent run and its live-looking lease; None when there is no parent, or no lease on it, or
    the parent was closed (a driver closes it last)."""
    parents = find_runs(client, sweep, "parent")
    if not parents or parents[0].info.status != "RUNNING":
        return None
    holder = Holder.parse(parents[0].data.tags.get(tags.LEASE))
    return (parents[0].info.run_id, holder) if holder is not None else None


def wait_for_lease(
    client: MlflowClient,
    sweep: str,
    *,
    wait: bool,
    say: Callable[[str], None] = _say,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once no live driver holds ``sweep``; raise ``LeaseHeld`` if one does.

    ``wait`` (``resume``): a lease held from another machine that has not
    lapsed yet is waited for, and said so once.
    """
    found = _holder(client, sweep)
    said = False
    while found is not None:
        holder = found[1]
        if holder.is_local():
            if holder.process_alive():
                raise LeaseHeld(
                    f"sweep {sweep!r} is running: {holder.describe()} holds it; a second driver would "
                    "disturb it (wait for it to end, or stop it first)"
                )
            say(f"sweep {sweep!r}: {holder.describe()} is gone; taking over its lease")
            return
        age = clock() - holder.heartbeat
        if age >= holder.ttl_s:
            say(
                f"sweep {sweep!r}: the lease of {holder.describe()} lapsed (no heartbeat for {age:.0f} s); "
                "taking it over"
            )
            return
        left = holder.ttl_s - age
        if not wait:
            raise LeaseHeld(
                f"sweep {sweep!r} is running: {holder.describe()} holds it, its heartbeat {age:.0f} s ago; "
                f"if that driver is gone, its lease lapses in {left:.0f} s (`mixup-tune resume {sweep}` "
                "waits for that)"
            )
        if not said:
            say(
                f"sweep {sweep!r}: leased by {holder.describe()}, last heartbeat {age:.0f} s ago; this "
                f"machine cannot see that process, so waiting up to {left:.0f} s for the lease to lapse"
            )
            said = True
        sleep(min(left, holder.ttl_s / BEATS_PER_TTL / 2))
        found = _holder(client, sweep)
        if found is not None and found[1] != holder:
            beat = found[1]
            if beat.token == holder.token:
                raise LeaseHeld(
                    f"sweep {sweep!r} is running: {holder.describe()} is alive (its heartbeat moved while "
                    "this driver waited)"
                )
            raise LeaseHeld(f"sweep {sweep!r}: {beat.describe()} took its lease while this driver waited")


class SweepLease:
    """This driver's lease on a sweep: ``take``, ``confirm`` before the trials start, ``release`` at the end.

    A daemon thread beats every time-to-live / ``BEATS_PER_TTL`` with a client
    of its own. A beat that fails (the store is down) is retried at the next; a
    beat that finds another driver's token stops beating and says so once.
    """

    def __init__(
        self, client: MlflowClient, parent_run_id: str, sweep: str, ttl_s: float | None = None
    ) -> None:
        self.tracking_uri = client.tracking_uri
        self.parent_run_id = parent_run_id
        self.sweep = sweep
        process = psutil.Process()
        self._holder = Holder(
            token=uuid.uuid4().hex,
            host=this_host(),
            space=_process_space(),
            pid=process.pid,
            pid_started=process.create_time(),
            heartbeat=0.0,
            ttl_s=ttl_s if ttl_s is not None else lease_ttl_s(),
        )
        self._client = client
        self._taken_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost_to: Holder | None = None

    @property
    def holder(self) -> Holder:
        return self._holder

    def take(self) -> SweepLease:
        self._beat(self._client)
        self._taken_at = time.monotonic()
        self._thread = threading.Thread(target=self._beating, name="mixup-tune-lease", daemon=True)
        self._thread.start()
        return self

    def _beat(self, client: MlflowClient) -> None:
        self._holder = Holder(**{**asdict(self._holder), "heartbeat": time.time()})
        client.set_tag(self.parent_run_id, tags.LEASE, self._holder.text())

    def _current(self, client: MlflowClient) -> Holder | None:
        return Holder.parse(client.get_run(self.parent_run_id).data.tags.get(tags.LEASE))

    def _beating(self) -> None:
        client = MlflowClient(self.tracking_uri)
        while not self._stop.wait(self._holder.ttl_s / BEATS_PER_TTL):
            try:
                current = self._current(client)
                if current is not None and current.token != self._holder.token:
                    self.lost_to = current
                    _say(f"warning: sweep {self.sweep!r}: {current.describe()} took this driver's lease")
                    return
                self._beat(client)
            except Exception:  # the store is down: the next beat tries again (the lease lapses meanwhile)
                continue

    def confirm(self) -> None:
        """Read the lease back once ``SETTLE_S`` has passed since it was taken: a driver that took it at the
        same moment, and wrote last, holds it, and this one refuses. So does the later of two parent runs that
        two first runs of a sweep made at once (it is deleted)."""
        time.sleep(max(0.0, self._taken_at + SETTLE_S - time.monotonic()))
        parents = sorted(
            find_runs(self._client, self.sweep, "parent"),
            key=lambda run: (run.info.start_time, run.info.run_id),
        )
        if parents and parents[0].info.run_id != self.parent_run_id:
            self._stop_beating()
            self._client.delete_run(self.parent_run_id)
            raise LeaseHeld(f"sweep {self.sweep!r} was started by another driver at the same moment")
        current = self._current(self._client)
        if current is not None and current.token != self._holder.token:
            self._stop_beating()
            raise LeaseHeld(
                f"sweep {self.sweep!r} is running: {current.describe()} took it at the same moment"
            )

    def _stop_beating(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def release(self) -> None:
        """Stop beating and remove the lease, if it is still this driver's (a failure here only leaves it to
        lapse)."""
        self._stop_beating()
        with contextlib.suppress(Exception):
            current = self._current(self._client)
            if current is not None and current.token == self._holder.token:
                self._client.delete_tag(self.parent_run_id, tags.LEASE)


def describe_lease(run: Any, clock: Callable[[], float] = time.time) -> str | None:
    """For ``status``: who drives the sweep and how recently it beat, or None where no lease is held."""
    holder = Holder.parse(run.data.tags.get(tags.LEASE)) if run.info.status == "RUNNING" else None
    if holder is None:
        return None
    age = clock() - holder.heartbeat
    lapsed = " (lapsed: its driver is gone)" if age >= holder.ttl_s else ""
    return f"{holder.host}, pid {holder.pid}, heartbeat {age:.0f} s ago{lapsed}"
