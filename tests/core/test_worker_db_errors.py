"""A worker meets a database that refuses, deadlocks or never comes back (issue 18).

Real ``pushdeck worker`` processes, a real PostgreSQL server, the fake APNs of
test_workers.py. The trouble is made from outside the worker: a trigger the workspace's
owner adds raises the SQLSTATE a full disk (53100) or a deadlock (40P01) raises, an
administrator's ``pg_cancel_backend`` cancels a statement (57014), and the database stops
taking connections (``ALLOW_CONNECTIONS false``, its sessions terminated) while a worker
is stopping. What is asserted is what an operator sees: the log's words, the exit code,
and that every device ends up accepted exactly as the fake server counted.
"""

# ruff: noqa: F811 - the fixtures of test_workers.py, imported by name
from __future__ import annotations

import re
import signal

import psycopg
import pytest

from pushdeck.core.campaigns.library import get_campaign
from pushdeck.core.store import Workspace
from pushdeck.core.store.journal import counts_by_state, possibly_duplicated
from tests.core.test_workers import (  # noqa: F401 - fixtures are used by name
    Workers,
    _campaign,
    _exit_code,
    _queue,
    _server_duplicates,
    _status,
    _until,
    fake,
    shared,
    workers,
)
from tests.fakes.apns_server import FakeApns
from tests.pg_fixtures import PgServer

pytestmark = pytest.mark.usefixtures("allow_local_endpoints")


def _refuse_outcomes(ws: Workspace, sqlstate: str, times: int | None) -> None:
    """From now on, writing an outcome ('accepted') fails with ``sqlstate`` (the first
    ``times`` statements only, or always); ``test_refusals`` counts the failures."""
    limit = "true" if times is None else f"nextval('test_refusals') <= {times}"
    ws.conn.execute("CREATE SEQUENCE test_refusals")
    ws.conn.execute(
        "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN IF {limit} THEN"
        + ("" if times is not None else " PERFORM nextval('test_refusals');")
        + f" RAISE EXCEPTION 'refused by the test' USING ERRCODE = '{sqlstate}';"
        " END IF; RETURN NEW; END $$"
    )
    ws.conn.execute(
        "CREATE TRIGGER test_refuse BEFORE UPDATE ON journal FOR EACH ROW"
        " WHEN (NEW.state = 'accepted') EXECUTE FUNCTION test_refuse()"
    )


def _refusals(ws: Workspace) -> int:
    return int(ws.scalar("SELECT last_value FROM test_refusals"))


def _stop_refusing(ws: Workspace) -> None:
    ws.conn.execute("DROP TRIGGER test_refuse ON journal")


def _accepted(fake: FakeApns) -> int:
    return sum(fake.accepted.values())


async def test_a_full_disk_is_said_kept_in_memory_and_retried_with_a_backoff(
    shared: Workspace, fake: FakeApns, workers: Workers
) -> None:
    devices = 1_500
    _campaign(shared, devices)
    _refuse_outcomes(shared, "53100", times=None)  # disk_full, until the test says
    proc = workers.start("full", concurrency=100)
    _queue(workers.uri)
    # Every device is sent (claims still work); no outcome can be written.
    await _until(lambda: _accepted(fake) == devices, 30, "every device sent")
    await _until(lambda: "trying again in 4 s" in workers.log("full"), 30, "the backoff to grow")
    log = workers.log("full")
    said = re.findall(r"campaign W: the workspace refused: (.*); trying again in ([\d.]+) s", log)
    assert said, log
    assert all("disk is full (SQLSTATE 53100: refused by the test)" in s[0] for s in said)
    assert all("free space on the PostgreSQL server's disk" in s[0] for s in said)
    assert "outcome(s) kept in memory" in said[-1][0]
    delays = [float(s[1]) for s in said]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0]  # a backoff, not a tight loop
    # each attempt waited its turn, and was said (one more may be under way)
    assert len(said) <= _refusals(shared) <= len(said) + 1
    campaign_id = get_campaign(shared, "W").id
    assert counts_by_state(shared, campaign_id).get("accepted", 0) == 0
    assert proc.poll() is None  # the worker lives on

    _stop_refusing(shared)  # space freed
    await _until(lambda: _status(shared) == "sent", 60, "the campaign to be sent")
    assert counts_by_state(shared, campaign_id) == {"accepted": devices}
    assert len(fake.accepted) == devices and _server_duplicates(fake) == 0
    assert possibly_duplicated(shared, campaign_id) == 0
    log = workers.log("full")
    assert "campaign W: the workspace takes writes again" in log
    assert "Traceback" not in log
    assert (await workers.stop_all()) == {"full": 0}


async def test_deadlocks_are_retried_in_place_without_a_word(
    shared: Workspace, fake: FakeApns, workers: Workers
) -> None:
    devices = 1_000
    _campaign(shared, devices)
    _refuse_outcomes(shared, "40P01", times=3)  # deadlock_detected, three statements in a row
    workers.start("dl", concurrency=100)
    _queue(workers.uri)
    await _until(lambda: _status(shared) == "sent", 60, "the campaign to be sent")
    assert _refusals(shared) > 3  # the three deadlocks happened, then a retry went through
    campaign_id = get_campaign(shared, "W").id
    assert counts_by_state(shared, campaign_id) == {"accepted": devices}
    assert len(fake.accepted) == devices and _server_duplicates(fake) == 0
    log = workers.log("dl")
    assert "refused" not in log and "Traceback" not in log  # within the retries: silent
    assert (await workers.stop_all()) == {"dl": 0}


async def test_endless_deadlocks_become_a_clear_message_not_a_crash(
    shared: Workspace, fake: FakeApns, workers: Workers
) -> None:
    devices = 500
    _campaign(shared, devices)
    _refuse_outcomes(shared, "40P01", times=None)
    proc = workers.start("dl2", concurrency=100)
    _queue(workers.uri)
    await _until(lambda: "trying again in 1 s" in workers.log("dl2"), 30, "the message")
    log = workers.log("dl2")
    assert "a deadlock with another client, again and again (SQLSTATE 40P01" in log
    assert _refusals(shared) >= 4  # the retries in place came first
    _stop_refusing(shared)
    await _until(lambda: _status(shared) == "sent", 60, "the campaign to be sent")
    assert counts_by_state(shared, get_campaign(shared, "W").id) == {"accepted": devices}
    assert _server_duplicates(fake) == 0 and proc.poll() is None
    assert "Traceback" not in workers.log("dl2")
    assert (await workers.stop_all()) == {"dl2": 0}


async def test_a_cancelled_statement_is_said_and_the_worker_carries_on(
    shared: Workspace, fake: FakeApns, workers: Workers, pg_database: str
) -> None:
    devices = 1_500
    _campaign(shared, devices)
    proc = workers.start("cancel", concurrency=100)
    _queue(workers.uri)
    await _until(lambda: _accepted(fake) >= 200, 30, "progress")
    # An administrator's session takes the journal; the worker's next statement waits on
    # it and is cancelled from outside (57014), twice.
    admin = psycopg.connect(pg_database, autocommit=True)
    try:
        admin.execute("BEGIN")
        admin.execute("LOCK TABLE journal IN EXCLUSIVE MODE")
        watcher = psycopg.connect(pg_database, autocommit=True)
        cancelled = 0
        for _ in range(2):

            def waiting() -> bool:
                row = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND state = 'active'"
                ).fetchone()
                return bool(row and row[0])

            await _until(waiting, 30, "the worker to wait on the lock")
            row = watcher.execute(
                "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                " AND state = 'active'"
            ).fetchone()
            cancelled += row[0] if row else 0
        watcher.close()
        admin.execute("COMMIT")
    finally:
        admin.close()
    assert cancelled >= 2
    await _until(lambda: _status(shared) == "sent", 60, "the campaign to be sent")
    log = workers.log("cancel")
    assert "the database server cancelled a statement" in log
    assert "SQLSTATE 57014" in log and "statement_timeout" in log
    assert "Traceback" not in log
    campaign_id = get_campaign(shared, "W").id
    assert counts_by_state(shared, campaign_id) == {"accepted": devices}
    assert len(fake.accepted) == devices and _server_duplicates(fake) == 0
    assert proc.poll() is None
    assert (await workers.stop_all()) == {"cancel": 0}


async def test_a_stopping_worker_gives_up_after_its_stop_timeout_and_another_finishes(
    shared: Workspace, fake: FakeApns, workers: Workers, pg_server: PgServer
) -> None:
    devices = 3_000
    _campaign(shared, devices)
    proc = workers.start("gone", concurrency=100, extra=("--stop-timeout", "2"))
    _queue(workers.uri)
    await _until(lambda: _accepted(fake) >= devices // 4, 30, "progress")
    # The database stops taking connections and the worker's sessions are cut: from the
    # worker's side the server is gone and does not come back (this test's own session
    # stays, to look).
    database = shared.scalar("SELECT current_database()")
    admin = psycopg.connect(pg_server.admin_uri("postgres"), autocommit=True)
    admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    try:
        shared.conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        proc.send_signal(signal.SIGTERM)
        code = await _exit_code(proc, 40)  # bounded: without it, it would wait forever
        in_flight = counts_by_state(shared, get_campaign(shared, "W").id).get("in_flight", 0)
    finally:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        admin.close()
    log = workers.log("gone")
    assert code == 1, log
    found = re.search(
        r"Stopped after 2 s without the workspace: (\d+) outcome\(s\) of campaign 'W' could"
        r" not be written",
        log,
    )
    assert found, log
    lost = int(found.group(1))
    assert 0 < lost <= in_flight  # those rows stay in flight under the dead worker
    assert "re-queues them, marked possibly duplicated" in log
    assert "(its connection is lost and the server does not answer)" in log
    assert "refused" not in log  # a lost connection is not a refusal of the server
    assert "Traceback" not in log

    # The server is back: another worker takes the campaign over (the first one's lease
    # ran out; on this machine its process is seen gone at once) and finishes it.
    workers.start("after", concurrency=100)
    await _until(lambda: _status(shared) == "sent", 60, "the campaign to be sent")
    campaign_id = get_campaign(shared, "W").id
    assert counts_by_state(shared, campaign_id) == {"accepted": devices}
    assert len(fake.accepted) == devices  # every device reached the server
    duplicated = possibly_duplicated(shared, campaign_id)
    assert duplicated >= lost  # the unwritten ones were re-queued as possibly duplicated
    assert _server_duplicates(fake) <= duplicated
    assert "Traceback" not in workers.log("after")
    codes = await workers.stop_all()
    assert codes["after"] == 0


def test_a_command_meeting_a_refusing_server_says_so_without_a_traceback(
    pg_database: str,
) -> None:
    import subprocess
    import sys

    with Workspace.open(pg_database) as ws:
        ws.conn.execute(
            "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " RAISE EXCEPTION 'could not extend file' USING ERRCODE = '53100'; END $$"
        )
        ws.conn.execute(
            "CREATE TRIGGER test_refuse BEFORE INSERT ON segments FOR EACH ROW"
            " EXECUTE FUNCTION test_refuse()"
        )
    done = subprocess.run(
        [sys.executable, "-m", "pushdeck", "--workspace", pg_database, "segments", "add", "S",
         "--rule", "locale = en"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith(
        "pushdeck: The shared workspace's database refused: the database server's disk is"
        " full (SQLSTATE 53100: could not extend file); free space on the PostgreSQL"
        " server's disk"
    ), done.stderr
    with Workspace.open(pg_database) as ws:
        assert ws.scalar("SELECT count(*) FROM segments") == 0


async def test_a_stopping_worker_whose_database_hangs_is_ended_by_its_watchdog(
    shared: Workspace, fake: FakeApns, workers: Workers
) -> None:
    """A server that hangs instead of refusing (its processes frozen): the worker's next
    database call never returns, so only the watchdog started by SIGTERM can end it."""
    import asyncio
    import os

    devices = 2_000
    _campaign(shared, devices)
    proc = workers.start("hung", concurrency=100, extra=("--stop-timeout", "1"))
    _queue(workers.uri)
    await _until(lambda: _accepted(fake) >= devices // 4, 30, "progress")
    frozen = [
        int(r[0])
        for r in shared.query(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
    ]
    assert frozen
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(0.5)  # its next statement is stuck by now
        proc.send_signal(signal.SIGTERM)
        code = await _exit_code(proc, 40)
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    log = workers.log("hung")
    assert code == 1, log
    assert "SIGTERM: finishing the sends in flight" not in log  # the loop never got to it
    assert re.search(
        r"pushdeck: Stopped after 1 s without the workspace: \d+ outcome\(s\) of campaign 'W'"
        r" could not be written \(a call to the database did not return\)",
        log,
    ), log
    assert "re-queues them, marked possibly duplicated" in log
    assert "Traceback" not in log

    workers.start("after", concurrency=100)
    await _until(lambda: _status(shared) == "sent", 60, "the campaign to be sent")
    campaign_id = get_campaign(shared, "W").id
    assert counts_by_state(shared, campaign_id) == {"accepted": devices}
    assert len(fake.accepted) == devices
    assert _server_duplicates(fake) <= possibly_duplicated(shared, campaign_id)
    assert (await workers.stop_all())["after"] == 0
