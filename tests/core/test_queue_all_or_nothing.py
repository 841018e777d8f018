"""Queueing a campaign for the workers is all or nothing, as other processes see it.

A ``pushdeck campaigns queue`` process writing the journal of a large audience is killed
with SIGKILL half-way (seen from a second connection: its INSERT INTO journal is
running). The campaign must not be left 'sending' with part of its audience (workers
would finish it as 'sent') or with none (queueing again would return at once): it is as
it was, a live worker claims nothing, and queueing again sends to every (opted-in)
device exactly once, counted at the fake APNs. While the journal is written, a watcher
never sees the campaign 'sending' with fewer journal rows than devices.

And the same for ``campaigns send`` on both backends: a sender killed while it writes
the journal leaves the campaign as it was.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest

from pushdeck.core.campaigns.library import create_campaign, get_campaign, set_status
from pushdeck.core.campaigns.queue import queue_campaign
from pushdeck.core.campaigns.spec import CampaignStatus, spec_from_dict
from pushdeck.core.common.model import App, ProviderKind
from pushdeck.core.credentials.secrets import store_credential
from pushdeck.core.devices.importer import import_devices
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from pushdeck.core.store.journal import counts_by_state
from tests.core import test_workers as real_workers
from tests.core.campaign_helpers import add_devices
from tests.core.test_workers import Workers, _cli, _until
from tests.fakes.apns_server import FakeApns

pytestmark = pytest.mark.usefixtures("allow_local_endpoints")

# The fixtures of test_workers.py: the fake APNs, the shared workspace with app 'shop'
# and its APNs credential, and the ``pushdeck worker`` processes.
fake, shared, workers = real_workers.fake, real_workers.shared, real_workers.workers

#: Devices: enough for the journal to take ~1.5 s to write, so the kill lands inside it.
DEVICES = 60_000
#: Of which opted in (the others are journaled 'excluded').
REACHABLE = 5_000

_WRITING_JOURNAL = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
    " AND pid <> pg_backend_pid() AND starts_with(query, 'INSERT INTO journal')"
)
_IN_TRANSACTION = "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND xact_start IS NOT NULL"
_SNAPSHOT = (
    "SELECT c.status, (SELECT count(*) FROM journal j WHERE j.campaign_id = c.id)"
    " FROM campaigns c WHERE c.name = %s"
)


def _devices(ws: Workspace, count: int, reachable: int, folder: Path) -> None:
    """``count`` iOS devices of app 'shop', imported from a file (fast on PostgreSQL); all
    but every ``count // reachable``-th opted out: each has a journal row to write, few
    are sent to (the fake APNs in this process takes ~1 ms a notification)."""
    src = folder / "devices.csv"
    every = count // reachable
    with src.open("w", encoding="utf-8") as fh:
        fh.write("token,platform,opt_in\n")
        fh.writelines(
            f"{i:064x},ios,{'authorized' if i % every == 0 else 'denied'}\n"
            for i in range(1, count + 1)
        )
    assert import_devices(ws, src, "shop").inserted == count


async def _kill_while_writing_journal(uri: str, proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``proc`` once its journal insert has run a while (from outside: the
    server's view of its session), then wait until the server ended that session."""
    watcher = psycopg.connect(uri, autocommit=True)
    try:
        deadline = time.monotonic() + 60
        while not (rows := watcher.execute(_WRITING_JOURNAL).fetchall()):
            assert proc.poll() is None, "the queue process ended before writing the journal"
            assert time.monotonic() < deadline, "the journal was never written"
            await asyncio.sleep(0.005)
        backend = rows[0][0]
        await asyncio.sleep(0.3)  # a few pages in
        assert proc.poll() is None, "the journal was written before the kill: more devices"
        in_transaction = watcher.execute(_IN_TRANSACTION, (backend,)).fetchone()
        assert in_transaction, "the journal was written before the kill: more devices"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        while watcher.execute(
            "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (backend,)
        ).fetchone():
            await asyncio.sleep(0.02)
    finally:
        watcher.close()


async def test_a_queue_killed_while_writing_the_journal_leaves_nothing_half_queued(
    shared: Workspace, fake: FakeApns, workers: Workers, tmp_path: Path
) -> None:
    _devices(shared, DEVICES, REACHABLE, tmp_path)
    doc = {"name": "Big", "app": "shop", "audience": {"all": True}, "message": {"title": "Hi"}}
    create_campaign(shared, spec_from_dict(doc))
    workers.start("w", concurrency=1000)
    queue = subprocess.Popen(
        [sys.executable, "-m", "pushdeck", "--workspace", workers.uri, "campaigns", "queue",
         "Big"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    await _kill_while_writing_journal(workers.uri, queue)

    campaign = get_campaign(shared, "Big")
    assert str(campaign.status) == "draft"  # not 'sending': as it was before the queue
    assert counts_by_state(shared, campaign.id) == {}
    await asyncio.sleep(1.5)  # five polls of the live worker
    assert counts_by_state(shared, campaign.id) == {} and not fake.accepted  # nothing claimed
    assert str(get_campaign(shared, "Big").status) == "draft"

    # Queue again, watched: 'sending' is never seen with less than the whole journal.
    seen: list[tuple[str, int]] = []

    def watch() -> None:  # in a thread: the fake APNs serves on this loop
        with psycopg.connect(workers.uri, autocommit=True) as conn:
            while not seen or seen[-1][0] == "draft":
                row = conn.execute(_SNAPSHOT, ("Big",)).fetchone()
                assert row is not None
                seen.append((str(row[0]), int(row[1])))

    watcher = asyncio.create_task(asyncio.to_thread(watch))
    code, out = await _cli(workers.uri, "campaigns", "queue", "Big")
    assert code == 0 and "Big: sending" in out, out
    await watcher  # it saw the first look after 'draft'
    await _until(lambda: str(get_campaign(shared, "Big").status) == "sent", 60, "sent")
    half = [(status, n) for status, n in seen if status != "draft" and n != DEVICES]
    assert not half, half[:5]
    assert ("draft", 0) in seen  # the watcher looked while the journal was being written
    counts = counts_by_state(shared, campaign.id)
    assert counts == {"accepted": REACHABLE, "excluded": DEVICES - REACHABLE}
    assert len(fake.accepted) == REACHABLE  # every reachable device reached the server ...
    assert max(fake.accepted.values()) == 1  # ... exactly once
    assert (await workers.stop_all()) == {"w": 0}


#: A ``campaigns send`` in a process that SIGKILLs itself while SQLite (or the page loop
#: on PostgreSQL) computes the variant of the 300th device: inside the journal's write.
_SEND_KILLED_MID_JOURNAL = textwrap.dedent(
    """
    import os, signal, sys
    from pushdeck.core.campaigns import dispatch

    arm_of = dispatch._arm_of

    def dying_arm_of(spec):
        arm, calls = arm_of(spec), [0]

        def dying(app, token):
            calls[0] += 1
            if calls[0] == 300:
                os.kill(os.getpid(), signal.SIGKILL)
            return arm(app, token)

        return dying

    dispatch._arm_of = dying_arm_of
    from pushdeck.cli import main
    sys.exit(main(["--workspace", sys.argv[1], "campaigns", "send", "Small"]))
    """
)


def test_a_send_killed_while_writing_the_journal_leaves_the_campaign_as_it_was(
    ws: Workspace, ws_target: str | Path
) -> None:
    add_devices(ws, [{"token": f"s{i}", "provider": "sandbox"} for i in range(1000)])
    behaviour = {"behaviour": {"latency_ms": 0, "failure_rate": 0, "dead_rate": 0}}
    store_credential(ws, "shop", ProviderKind.SANDBOX, "sandbox", None, behaviour)
    doc = {"name": "Small", "app": "shop", "audience": {"all": True}, "message": {"title": "Hi"}}
    create_campaign(ws, spec_from_dict(doc))
    done = subprocess.run(
        [sys.executable, "-c", _SEND_KILLED_MID_JOURNAL, str(ws_target)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr
    campaign = get_campaign(ws, "Small")
    assert str(campaign.status) == "draft"  # never 'sending' with no journal
    assert counts_by_state(ws, campaign.id) == {}


def test_queueing_again_writes_the_journal_an_older_pushdeck_left_unwritten(
    pg_database: str,
) -> None:
    """Before this fix a queue killed half-way left the campaign 'sending' with no
    journal, and queueing again returned at once: it now writes the journal."""
    with Workspace.open(pg_database) as ws:
        add_app(ws, App("shop"))
        add_devices(ws, [{"token": f"s{i}", "provider": "sandbox"} for i in range(50)])
        store_credential(ws, "shop", ProviderKind.SANDBOX, "sandbox", None, {})
        doc = {"name": "Old", "app": "shop", "audience": {"all": True},
               "message": {"title": "Hi"}}  # fmt: skip
        create_campaign(ws, spec_from_dict(doc))
        set_status(ws, "Old", CampaignStatus.SENDING, started=True)  # what it left
        campaign = queue_campaign(ws, "Old")
        assert str(campaign.status) == "sending"
        assert counts_by_state(ws, campaign.id) == {"queued": 50}
        assert queue_campaign(ws, "Old").status is CampaignStatus.SENDING  # once only
        assert counts_by_state(ws, campaign.id) == {"queued": 50}
