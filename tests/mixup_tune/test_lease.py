"""The sweep lease against each kind of real MLflow store (sqlite, a server, a server on PostgreSQL: the
``tracking_uri`` fixture): who may drive a sweep, when a dead driver's lease is taken over, and the heartbeat
that keeps a live one. Real drivers, on sqlite: tests/integration/test_several_drivers.py."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import psutil
import pytest
from mlflow.tracking import MlflowClient

from mixup_tune.errors import UserError
from mixup_tune.records import tags
from mixup_tune.records.lease import (
    HOST_VARIABLE,
    TTL_VARIABLE,
    Holder,
    LeaseHeld,
    SweepLease,
    describe_lease,
    lease_ttl_s,
    this_host,
    wait_for_lease,
)
from mixup_tune.records.lease import _process_space as process_space


@pytest.fixture
def client(tracking_uri: str) -> Iterator[MlflowClient]:
    """One store per storage mode for the module; each test's experiments are deleted after it, so that the
    next test finds none of its sweeps (every test names its sweep "s")."""
    client = MlflowClient(tracking_uri)
    yield client
    for experiment in client.search_experiments():
        if experiment.experiment_id != "0":  # MLflow's default experiment cannot be deleted (and holds none)
            client.delete_experiment(experiment.experiment_id)


def _parent(client: MlflowClient, sweep: str = "s") -> str:
    experiment = client.create_experiment(f"e-{time.monotonic_ns()}")
    return client.create_run(experiment, tags={tags.SWEEP: sweep, tags.ROLE: "parent"}).info.run_id


def _lease(client: MlflowClient, run_id: str, **fields: object) -> Holder:
    me = psutil.Process()
    holder = Holder(
        **{
            "token": "t1",
            "host": this_host(),
            "space": process_space(),
            "pid": me.pid,
            "pid_started": me.create_time(),
            "heartbeat": time.time(),
            "ttl_s": 60.0,
            **fields,
        }
    )
    client.set_tag(run_id, tags.LEASE, holder.text())
    return holder


class FakeTime:
    """A clock that moves only when slept on; ``on_sleep`` may write to the store meanwhile."""

    def __init__(self) -> None:
        self.now = time.time()
        self.slept: list[float] = []
        self.on_sleep: Callable[[], object] = lambda: None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        self.on_sleep()


def test_no_parent_or_no_lease_or_a_closed_parent_is_free(client: MlflowClient) -> None:
    wait_for_lease(client, "s", wait=False)  # no such sweep yet
    run_id = _parent(client)
    wait_for_lease(client, "s", wait=False)  # a parent without a lease
    _lease(client, run_id)
    client.set_terminated(run_id, "FINISHED")  # its driver closed it: whatever tag is left means nothing
    wait_for_lease(client, "s", wait=False)


def test_a_live_driver_on_this_machine_is_refused_even_by_resume(client: MlflowClient) -> None:
    _lease(client, _parent(client))  # this very process holds it
    for wait in (False, True):
        with pytest.raises(LeaseHeld, match=r"sweep 's' is running: its driver on .* \(pid \d+\) holds it"):
            wait_for_lease(client, "s", wait=wait)
    assert issubclass(LeaseHeld, UserError)  # one line, exit 2


def test_a_dead_driver_on_this_machine_is_taken_over_at_once(client: MlflowClient) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(dead.pid).create_time()
    dead.wait()
    run_id = _parent(client)
    _lease(client, run_id, pid=dead.pid, pid_started=started)
    said: list[str] = []
    fake = FakeTime()
    wait_for_lease(client, "s", wait=False, say=said.append, clock=fake.clock, sleep=fake.sleep)
    assert fake.slept == [] and said == [
        f"sweep 's': its driver on {this_host()} (pid {dead.pid}) is gone; taking over its lease"
    ]


def test_a_reused_pid_is_not_mistaken_for_the_driver(client: MlflowClient) -> None:
    run_id = _parent(client)
    me = psutil.Process()
    _lease(client, run_id, pid=me.pid, pid_started=me.create_time() - 3600)  # "this pid, an hour earlier"
    wait_for_lease(client, "s", wait=False, say=lambda line: None)


def test_another_machines_fresh_lease_refuses_run_and_makes_resume_wait_until_it_lapses(
    client: MlflowClient,
) -> None:
    run_id = _parent(client)
    fake = FakeTime()
    _lease(client, run_id, host="elsewhere", ttl_s=20.0, heartbeat=fake.now - 5)
    with pytest.raises(
        LeaseHeld, match=r"its heartbeat 5 s ago; if that driver is gone, its lease lapses in 15 s"
    ):
        wait_for_lease(client, "s", wait=False, clock=fake.clock, sleep=fake.sleep)
    said: list[str] = []
    wait_for_lease(client, "s", wait=True, say=said.append, clock=fake.clock, sleep=fake.sleep)
    assert sum(fake.slept) == pytest.approx(15.0)
    assert len(said) == 2, said  # once that it waits, once that it takes over
    assert (
        "waiting up to 15 s for the lease to lapse" in said[0] and "lapsed (no heartbeat for 20 s)" in said[1]
    )


def test_waiting_stops_with_a_refusal_when_the_heartbeat_moves(client: MlflowClient) -> None:
    run_id = _parent(client)
    fake = FakeTime()
    holder = _lease(client, run_id, host="elsewhere", ttl_s=20.0, heartbeat=fake.now - 1)
    fake.on_sleep = lambda: client.set_tag(  # the remote driver beats: it is alive
        run_id, tags.LEASE, Holder(**{**holder.__dict__, "heartbeat": fake.now}).text()
    )
    with pytest.raises(LeaseHeld, match="is alive"):
        wait_for_lease(client, "s", wait=True, say=lambda line: None, clock=fake.clock, sleep=fake.sleep)
    assert len(fake.slept) == 1


def test_a_lease_beats_and_is_released(client: MlflowClient) -> None:
    run_id = _parent(client)
    lease = SweepLease(client, run_id, "s", ttl_s=0.4).take()  # a beat every 0.1 s
    try:
        first = Holder.parse(client.get_run(run_id).data.tags[tags.LEASE])
        assert first is not None and first.token == lease.holder.token and first.pid == psutil.Process().pid
        time.sleep(0.5)
        later = Holder.parse(client.get_run(run_id).data.tags[tags.LEASE])
        assert later is not None and later.heartbeat > first.heartbeat
        lease.confirm()  # still ours
        assert describe_lease(client.get_run(run_id)) is not None
        with pytest.raises(LeaseHeld):  # and a second driver is refused while it beats
            wait_for_lease(client, "s", wait=True)
    finally:
        lease.release()
    assert tags.LEASE not in client.get_run(run_id).data.tags
    wait_for_lease(client, "s", wait=False)


def test_of_two_drivers_taking_a_lease_at_once_the_one_that_wrote_first_refuses(client: MlflowClient) -> None:
    run_id = _parent(client)
    first = SweepLease(client, run_id, "s", ttl_s=60).take()
    second = SweepLease(client, run_id, "s", ttl_s=60).take()  # wrote last: it holds the lease
    try:
        with pytest.raises(LeaseHeld, match="took it at the same moment"):
            first.confirm()
        second.confirm()
    finally:
        first.release()  # not its lease any more: left alone
        assert Holder.parse(client.get_run(run_id).data.tags[tags.LEASE]) == second.holder
        second.release()


def test_of_two_parents_made_at_once_the_later_is_deleted_and_refused(client: MlflowClient) -> None:
    earlier, later = _parent(client), _parent(client)
    leases = [SweepLease(client, run_id, "s", ttl_s=60).take() for run_id in (earlier, later)]
    try:
        with pytest.raises(LeaseHeld, match="started by another driver at the same moment"):
            leases[1].confirm()
        leases[0].confirm()
    finally:
        for lease in leases:
            lease.release()
    assert client.get_run(later).info.lifecycle_stage == "deleted"


@pytest.mark.parametrize("text", ["0", "-3", "soon", "inf", "nan"])
def test_a_bad_time_to_live_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv(TTL_VARIABLE, text)
    with pytest.raises(UserError, match=f"{TTL_VARIABLE}='{text}'"):
        lease_ttl_s()


def test_the_host_name_can_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOST_VARIABLE, "node-7")
    assert this_host() == "node-7"
    monkeypatch.setenv(TTL_VARIABLE, "12.5")
    assert lease_ttl_s() == 12.5
