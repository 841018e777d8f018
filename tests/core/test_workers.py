"""Workers on a shared PostgreSQL workspace (issue 18), with real processes.

Each test starts ``pushdeck worker`` subprocesses against a real PostgreSQL database and
the fake APNs (answering 60 ms after each request, as a far-away provider does), then
does to them what happens in production: kill -9, a cut database connection, SIGTERM,
the scheduler's machine dying. The fake server counts every notification it accepted
(by apns-id, one per device), so duplicates are measured where they would land.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.core.campaigns.library import create_campaign, get_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.model import App
from pushdeck.core.credentials.forms import save_apns_token
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from pushdeck.core.store.journal import counts_by_state, possibly_duplicated
from tests.core.apns_setup import KEY_ID, TEAM_ID, TOPIC, fake_apns, key_pem
from tests.core.campaign_helpers import add_devices
from tests.fakes import tls
from tests.fakes.apns_server import FakeApns

pytestmark = pytest.mark.usefixtures("allow_local_endpoints")

LEASE = "2"  # seconds: a killed worker's devices come back quickly


@pytest.fixture
async def fake(pki: tls.TestPKI, key: ec.EllipticCurvePrivateKey) -> AsyncIterator[FakeApns]:
    async with fake_apns(pki, key, record=False, apns_like=True, latency=0.06) as server:
        yield server


@pytest.fixture
def shared(
    pg_database: str, fake: FakeApns, pki: tls.TestPKI, key: ec.EllipticCurvePrivateKey,
    tmp_path: Path,
) -> Iterator[Workspace]:  # fmt: skip
    """A shared workspace with app 'shop' and its APNs credential (secret in the keyring
    of this session, which the worker processes read as a headless worker would)."""
    ws = Workspace.open(pg_database)
    add_app(ws, App("shop", apns_topic=TOPIC))
    key_file = tmp_path / "AuthKey.p8"
    key_file.write_bytes(key_pem(key))
    save_apns_token(
        ws, "shop", key_file=str(key_file), key_id=KEY_ID, team_id=TEAM_ID,
        environment="production", endpoint=fake.url, ca_file=str(pki.ca_file),
    )  # fmt: skip
    yield ws
    ws.close()


class Workers:
    """``pushdeck worker`` subprocesses, each logging to its own file."""

    def __init__(self, uri: str, folder: Path) -> None:
        self.uri = uri
        self.folder = folder
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(
        self, name: str, concurrency: int = 200, extra: tuple[str, ...] = ()
    ) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen(
            [sys.executable, "-m", "pushdeck", "--workspace", self.uri, "worker",
             "--name", name, "--lease", LEASE, "--poll", "0.3",
             "--concurrency", str(concurrency), *extra],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text()

    async def stop_all(self) -> dict[str, int]:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = {}
        for name, proc in self.procs.items():
            codes[name] = await _exit_code(proc, 20)
        return codes

    def kill_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(pg_database: str, tmp_path: Path) -> Iterator[Workers]:
    group = Workers(pg_database, tmp_path)
    yield group
    group.kill_all()


async def _exit_code(proc: subprocess.Popen[bytes], within: float) -> int:
    deadline = time.monotonic() + within
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"worker {proc.pid} did not exit within {within} s")
        await asyncio.sleep(0.05)
    return int(proc.returncode)


def _campaign(ws: Workspace, devices: int, schedule: object = "now", name: str = "W") -> None:
    if not ws.scalar("SELECT count(*) FROM devices"):
        add_devices(ws, [{"token": f"{i:064x}"} for i in range(1, devices + 1)])
    doc = {"name": name, "app": "shop", "audience": {"all": True},
           "message": {"title": "Hi"}, "schedule": schedule}  # fmt: skip
    create_campaign(ws, spec_from_dict(doc))


def _queue(uri: str, name: str = "W") -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pushdeck", "--workspace", uri, "campaigns", "queue", name],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "sending" in done.stdout


async def _until(condition: object, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _cli(uri: str, *args: str) -> tuple[int, str]:
    """Run pushdeck in a child process without blocking this loop (the fake serves on it)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pushdeck", "--workspace", uri, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert b"Traceback" not in err, err.decode()
    return int(proc.returncode or 0), out.decode()


def _status(ws: Workspace, name: str = "W") -> str:
    return str(get_campaign(ws, name).status)


def _server_duplicates(fake: FakeApns) -> int:
    return sum(count - 1 for count in fake.accepted.values())


async def test_three_workers_send_one_campaign_and_survive_a_kill_nine(
    shared: Workspace, fake: FakeApns, workers: Workers
) -> None:
    devices = 20_000
    _campaign(shared, devices)
    for name in ("w1", "w2", "w3"):
        workers.start(name)
    _queue(workers.uri)
    # Mid-way, kill -9 the worker with the most devices in flight.
    await _until(lambda: sum(fake.accepted.values()) >= devices // 4, 60, "a quarter sent")
    busiest = shared.query(
        "SELECT w.pid, count(*) AS n FROM journal j JOIN workers w ON w.id = j.claimed_by"
        " WHERE j.state = 'in_flight' GROUP BY w.pid ORDER BY n DESC LIMIT 1"
    )
    assert busiest, "no worker had devices in flight mid-way"
    victim_pid = int(busiest[0]["pid"])
    # As if it ran on another machine: the others cannot see its process is gone and
    # must wait out its lease (on one machine they notice at once, see test_resume_kill).
    shared.conn.execute("UPDATE workers SET pid_space = 'elsewhere' WHERE pid = ?", (victim_pid,))
    os.kill(victim_pid, signal.SIGKILL)
    await _until(lambda: _status(shared) == "sent", 60, "the campaign to be sent")

    counts = counts_by_state(shared, get_campaign(shared, "W").id)
    assert counts == {"accepted": devices}
    assert len(fake.accepted) == devices  # every device reached the server
    reported = possibly_duplicated(shared, get_campaign(shared, "W").id)
    assert _server_duplicates(fake) <= reported
    rows = {r["pid"]: r for r in shared.query("SELECT pid, stopped_at, sent FROM workers")}
    assert rows[victim_pid]["stopped_at"] is not None  # declared dead by the others
    assert sum(1 for r in rows.values() if r["sent"] > 0) >= 2  # they shared the work
    codes = await workers.stop_all()
    survivors = {n: c for n, c in codes.items() if workers.procs[n].pid != victim_pid}
    assert set(survivors.values()) == {0}, {n: workers.log(n) for n in survivors}


async def test_the_scheduler_role_moves_to_another_worker_when_its_holder_dies(
    shared: Workspace, fake: FakeApns, workers: Workers
) -> None:
    _campaign(shared, 50, name="Warmup")
    workers.start("a")
    workers.start("b")

    def scheduler_pid() -> int | None:
        rows = shared.query("SELECT pid FROM workers WHERE scheduler = 1 AND stopped_at IS NULL")
        return int(rows[0]["pid"]) if len(rows) == 1 else None

    await _until(lambda: scheduler_pid() is not None, 20, "a scheduler")
    holder = scheduler_pid()
    assert holder is not None
    os.kill(holder, signal.SIGKILL)  # its session ends: the advisory lock is free
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _campaign(shared, 50, schedule={"at": at}, name="Due")
    assert _status(shared, "Due") == "scheduled"
    await _until(lambda: _status(shared, "Due") == "sent", 25, "the due campaign to be sent")
    assert counts_by_state(shared, get_campaign(shared, "Due").id) == {"accepted": 50}
    survivor = next(p for p in workers.procs.values() if p.pid != holder)
    await _until(lambda: scheduler_pid() == survivor.pid, 10, "the survivor to be scheduler")
    assert "this worker runs the schedules" in workers.log(
        next(n for n, p in workers.procs.items() if p.pid == survivor.pid)
    )


async def test_a_cut_database_connection_loses_no_outcome(
    shared: Workspace, fake: FakeApns, workers: Workers
) -> None:
    devices = 5_000
    _campaign(shared, devices)
    proc = workers.start("cut", concurrency=100)
    _queue(workers.uri)
    admin = psycopg.connect(workers.uri, autocommit=True)
    mine = admin.execute("SELECT pg_backend_pid()").fetchone()
    cut = 0
    for share in (0.2, 0.5):  # twice: once reconnected, it must survive another cut
        await _until(lambda s=share: sum(fake.accepted.values()) >= devices * s, 30, "progress")  # type: ignore[misc]
        row = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> %s AND pid <> %s",
            (mine[0] if mine else 0, shared.scalar("SELECT pg_backend_pid()")),
        ).fetchone()
        cut += row[0] if row else 0
    admin.close()
    assert cut >= 2
    await _until(lambda: _status(shared) == "sent", 40, "the campaign to be sent")
    campaign_id = get_campaign(shared, "W").id
    assert counts_by_state(shared, campaign_id) == {"accepted": devices}
    assert len(fake.accepted) == devices
    # The worker never died: nothing was re-queued, nothing sent twice.
    assert _server_duplicates(fake) == 0
    assert possibly_duplicated(shared, campaign_id) == 0
    assert proc.poll() is None
    assert (await workers.stop_all()) == {"cut": 0}


async def test_sigterm_finishes_in_flight_sends_and_records_them(
    shared: Workspace, fake: FakeApns, workers: Workers
) -> None:
    devices = 5_000
    _campaign(shared, devices)
    proc = workers.start("t", concurrency=100)
    _queue(workers.uri)
    await _until(lambda: sum(fake.accepted.values()) >= devices // 4, 30, "progress")
    proc.send_signal(signal.SIGTERM)
    assert await _exit_code(proc, 20) == 0
    campaign_id = get_campaign(shared, "W").id
    counts = counts_by_state(shared, campaign_id)
    assert "in_flight" not in counts  # every send it started has its outcome written
    assert counts["accepted"] == len(fake.accepted) < devices
    assert _status(shared) == "sending"  # left for the other workers, not paused
    state = shared.query("SELECT stopped_at FROM workers WHERE pid = ?", (proc.pid,))
    assert state[0]["stopped_at"] is not None
    code, out = await _cli(workers.uri, "campaigns", "wait", "W", "--timeout", "0.5")
    assert code == 124 and out == ""  # nobody sends it now: the wait times out
    workers.start("t2", concurrency=100)
    code, out = await _cli(workers.uri, "campaigns", "wait", "W", "--timeout", "40")
    assert code == 0 and out.startswith(f"W: sent (accepted {devices})")
    assert _status(shared) == "sent"
    assert counts_by_state(shared, campaign_id) == {"accepted": devices}
    assert len(fake.accepted) == devices and _server_duplicates(fake) == 0
    assert possibly_duplicated(shared, campaign_id) == 0


async def test_campaigns_send_on_a_shared_workspace_is_one_more_worker(
    shared: Workspace, fake: FakeApns, workers: Workers
) -> None:
    devices = 6_000
    _campaign(shared, devices)
    workers.start("slow", concurrency=30)  # ~500/s at 60 ms: the send must help
    _queue(workers.uri)
    await _until(lambda: sum(fake.accepted.values()) >= 200, 30, "the worker to start")
    code, out = await _cli(workers.uri, "campaigns", "send", "W", "--concurrency", "300")
    assert code == 0, out
    assert out.startswith(f"W: sent (accepted {devices})")  # it stayed until the end
    campaign_id = get_campaign(shared, "W").id
    assert counts_by_state(shared, campaign_id) == {"accepted": devices}
    assert len(fake.accepted) == devices and _server_duplicates(fake) == 0
    sent = {r["kind"]: r["sent"] for r in shared.query("SELECT kind, sent FROM workers")}
    assert sent["send"] > 0 and sent["worker"] > 0, sent  # both sent part of it
    assert sent["send"] + sent["worker"] <= devices
    assert (await workers.stop_all()) == {"slow": 0}


def test_a_workspace_file_refuses_workers_and_queueing(tmp_path: Path) -> None:
    path = tmp_path / "w.pushdeck"
    with Workspace.open(path) as ws:
        add_app(ws, App("shop", apns_topic=TOPIC))
        _campaign(ws, 3)
    for args, words in (
        (["worker"], "workers need a shared PostgreSQL workspace"),
        (["campaigns", "queue", "W"], "needs a shared PostgreSQL workspace"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "pushdeck", "--workspace", str(path), *args],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert done.returncode == 1
        assert words in done.stderr and "Traceback" not in done.stderr
