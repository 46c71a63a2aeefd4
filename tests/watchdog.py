"""A server's watchdog: when the test process that started a server dies, however it dies, the server goes.

    python tests/watchdog.py OWNER_PID SERVER_PID SIGNAL [DIRECTORY]

Started by ``helpers`` beside each server the tests start (``mlflow server``, ``mlflow ui``, PostgreSQL), in a
session of its own, so that killing the test process's group leaves it running. It watches two processes:
when the server ends first (stopped as usual), the watchdog just exits; when the owner ends first (a
time-out's SIGKILL, which runs no ``atexit`` and no fixture's teardown), it sends ``SIGNAL`` to the server's
process group (PostgreSQL's postmaster leads one of its own: ``pg_ctl`` starts it with ``setsid``), SIGKILL
after 10 s, and removes ``DIRECTORY``. A ``make test`` killed that way once left an ``mlflow server`` and two
PostgreSQL servers running for 35 to 50 minutes.

Standard library only, and no import of the tests: it starts in tens of milliseconds.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import sys
import time

POLL_S = 0.2  # without pidfds (before Linux 5.3), how often the two processes are looked at
GRACE_S = 10.0  # after SIGNAL, how long the server has to end before SIGKILL


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's (the postgres user's postmaster, the tests not run as root)
        return True
    return True


def _wait_for_either(owner: int, server: int) -> bool:
    """Block until the owner or the server ends; True if the owner ended."""
    try:  # a pidfd becomes readable when its process ends: no polling, no pid reuse between looks
        fds = {os.pidfd_open(owner): True, os.pidfd_open(server): False}
    except (AttributeError, OSError):
        while _alive(owner) and _alive(server):
            time.sleep(POLL_S)
        return not _alive(owner)
    ready, _, _ = select.select(list(fds), [], [])
    return any(fds[fd] for fd in ready)


def _stop(server: int, signal_number: int) -> None:
    for number in (signal_number, signal.SIGKILL):
        try:
            os.killpg(server, number)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + GRACE_S
        while time.monotonic() < deadline and _alive(server):
            time.sleep(POLL_S)
        if not _alive(server):
            return


def main(argv: list[str]) -> int:
    owner, server, signal_number = int(argv[0]), int(argv[1]), int(argv[2])
    directory = argv[3] if len(argv) > 3 else None
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C at the terminal reaches the owner, not this
    if not _wait_for_either(owner, server):
        return 0
    _stop(server, signal_number)
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
