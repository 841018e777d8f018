"""``pushdeck campaigns run-due`` (cron) on a shared workspace, beside ``pushdeck worker``.

Real processes on a real PostgreSQL database, counted at the fake APNs: while a worker
runs the schedules, run-due sends nothing and names that worker; with none, run-due
sends what is due itself; and when run-due processes and a starting worker race for a
due campaign, every device gets exactly one notification.
"""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime

import pytest

from pushdeck.core.campaigns.library import get_campaign
from pushdeck.core.store import Workspace
from pushdeck.core.store.journal import counts_by_state
from tests.core import test_workers as real_workers
from tests.core.test_workers import Workers, _campaign, _cli, _until
from tests.fakes.apns_server import FakeApns

pytestmark = pytest.mark.usefixtures("allow_local_endpoints")

# The fixtures of test_workers.py: the fake APNs, the shared workspace with app 'shop'
# and its APNs credential, and the ``pushdeck worker`` processes.
fake, shared, workers = real_workers.fake, real_workers.shared, real_workers.workers


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sent(ws: Workspace, name: str) -> bool:
    return str(get_campaign(ws, name).status) == "sent"


def _exactly_once(fake: FakeApns, devices: int) -> None:
    assert len(fake.accepted) == devices  # every device reached the server ...
    assert max(fake.accepted.values()) == 1  # ... once


async def test_run_due_names_the_scheduler_worker_and_sends_nothing(
    shared: Workspace, fake: FakeApns, workers: Workers
) -> None:
    workers.start("sched", extra=("--poll", "5"))  # its own schedules: 5 s apart
    await _until(
        lambda: shared.scalar("SELECT count(*) FROM workers WHERE scheduler = 1"), 20, "scheduler"
    )
    _campaign(shared, 300, schedule={"at": _now()}, name="Due")
    code, out = await _cli(workers.uri, "campaigns", "run-due")
    assert code == 0
    assert out == (
        f"schedules: run by worker 'sched' on host {socket.gethostname()} "
        f"(pid {workers.procs['sched'].pid}); nothing was done here\n"
    )
    code, out = await _cli(workers.uri, "campaigns", "run-due", "--json")
    assert code == 0 and '"scheduled_by": "worker \'sched\' on host' in out
    assert '"sent": []' in out
    # The worker sends it (at its next turn), once.
    await _until(lambda: _sent(shared, "Due"), 30, "the worker to send it")
    _exactly_once(fake, 300)
    kinds = {r[0] for r in shared.query("SELECT DISTINCT kind FROM workers")}
    assert kinds == {"worker"}  # run-due never registered to send
    assert (await workers.stop_all()) == {"sched": 0}


async def test_without_a_worker_run_due_sends_what_is_due(
    shared: Workspace, fake: FakeApns, workers: Workers
) -> None:
    _campaign(shared, 200, schedule={"at": _now()}, name="Due")
    code, out = await _cli(workers.uri, "campaigns", "run-due")
    assert (code, out) == (0, "sent: Due\n")
    assert _sent(shared, "Due")
    _exactly_once(fake, 200)
    row = shared.query("SELECT kind, scheduler, stopped_at, sent FROM workers")
    assert [(r[0], r[1], r[3]) for r in row] == [("run-due", 0, 200)]  # said goodbye
    assert row[0][2] is not None


@pytest.mark.parametrize("round_", range(3))
async def test_run_due_and_a_starting_worker_race_and_each_device_gets_one_notification(
    shared: Workspace, fake: FakeApns, workers: Workers, round_: int
) -> None:
    devices = 3_000
    _campaign(shared, devices, schedule={"at": _now()}, name="Due")
    # Two cron runs and a worker starting at the same moment: one of them runs the
    # schedules, the others see who does (or help through claims).
    workers.start("w", concurrency=100)
    if round_:
        await asyncio.sleep(0.4 * round_)  # the worker further along: it may win the lock
    results = await asyncio.gather(
        _cli(workers.uri, "campaigns", "run-due"), _cli(workers.uri, "campaigns", "run-due")
    )
    await _until(lambda: _sent(shared, "Due"), 60, "the campaign to be sent")
    for code, out in results:
        assert code == 0
        assert out == "sent: Due\n" or out.startswith("schedules: run by "), out
    assert counts_by_state(shared, get_campaign(shared, "Due").id) == {"accepted": devices}
    _exactly_once(fake, devices)
    assert (await workers.stop_all()) == {"w": 0}
