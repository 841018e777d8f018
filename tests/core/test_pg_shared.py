"""Several processes on one PostgreSQL workspace, as a team uses it (issue 17).

What SQLite got from its single writer (``BEGIN IMMEDIATE``) must hold on a server
running READ COMMITTED: one sender lease at a time, and no send marked in flight
after another process paused the campaign.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from pushdeck.core.campaigns.dispatch import materialize
from pushdeck.core.campaigns.library import create_campaign, set_status
from pushdeck.core.campaigns.spec import CampaignStatus, spec_from_dict
from pushdeck.core.common.model import App, ProviderKind
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from pushdeck.core.store.journal import counts_by_state
from pushdeck.core.store.segments import get_segment
from tests.core.campaign_helpers import add_devices

ROOT = Path(__file__).parents[2]


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}"}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


_IMPORT_AND_SEGMENT = """
import sys
from pathlib import Path
from pushdeck.core.common.model import App
from pushdeck.core.devices.importer import import_devices
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from pushdeck.core.store.segment_rules import parse_rule
from pushdeck.core.store.segments import Segment, save_segment
with Workspace.open(sys.argv[1]) as ws:
    add_app(ws, App("shop", apns_topic="com.example.shop"))
    report = import_devices(ws, Path(sys.argv[2]), "shop")
    save_segment(ws, Segment("pt vip", parse_rule("locale ^= pt and tag has vip")))
    print(report.inserted)
"""


def test_one_process_imports_and_segments_another_counts(pg_database: str, tmp_path: Path) -> None:
    from pushdeck.core.store.segments import count_rule

    rows = ["token,platform,locale,tags"]
    rows += [
        f"{i:064x},ios,{('pt-BR', 'en', 'pt')[i % 3]},{'vip' if i % 2 else ''}" for i in range(300)
    ]
    src = tmp_path / "devices.csv"
    src.write_text("\n".join(rows) + "\n")
    with Workspace.open(pg_database) as mine:  # open before the other writes anything
        importer = _python(_IMPORT_AND_SEGMENT, pg_database, str(src))
        out, err = importer.communicate(timeout=120)
        assert importer.returncode == 0, err
        assert out.strip() == "300"
        segment = get_segment(mine, "pt vip")
        expected = sum(1 for i in range(300) if i % 3 != 1 and i % 2)
        assert count_rule(mine, segment.rule, "shop") == expected


_TAKE_LEASE = """
import sys, time
from pathlib import Path
from pushdeck.core.common.errors import ConfigError
from pushdeck.core.campaigns import sender_lease
from pushdeck.core.store import Workspace
go, done = Path(sys.argv[2]), Path(sys.argv[3])
with Workspace.open(sys.argv[1]) as ws:
    while not go.exists():
        time.sleep(0.005)
    try:
        sender_lease.acquire(ws, 1, "C")
        print("won", flush=True)
    except ConfigError:
        print("lost", flush=True)
    while not done.exists():  # stay alive: a lease of a dead process is taken over
        time.sleep(0.01)
"""


def test_concurrent_lease_takes_exactly_one_wins(pg_database: str, tmp_path: Path) -> None:
    Workspace.open(pg_database).close()
    go, done = tmp_path / "go", tmp_path / "done"
    takers = [_python(_TAKE_LEASE, pg_database, str(go), str(done)) for _ in range(6)]
    time.sleep(1.5)  # every taker connected and waiting
    go.touch()
    answers = []
    for taker in takers:
        assert taker.stdout is not None
        answers.append(taker.stdout.readline().strip())
    done.touch()
    for taker in takers:
        _, err = taker.communicate(timeout=60)
        assert taker.returncode == 0, err
    assert sorted(answers) == ["lost"] * 5 + ["won"]


def test_a_lease_taken_while_another_process_decides_is_refused(
    pg_database: str, tmp_path: Path
) -> None:
    """The other taker arrives between our read and our write: it must wait for us,
    then see our lease (without a lock, READ COMMITTED lets both write theirs)."""
    from pushdeck.core.campaigns import sender_lease
    from pushdeck.core.store import leases

    go, done = tmp_path / "go", tmp_path / "done"
    go.touch()
    with Workspace.open(pg_database) as ws:
        other: list[subprocess.Popen[str]] = []

        def slow_decision(current: str | None) -> None:
            assert current is None
            other.append(_python(_TAKE_LEASE, pg_database, str(go), str(done)))
            time.sleep(2.0)  # the other taker reads and decides meanwhile

        leases.take(ws, "campaign_sender:1", sender_lease._value("ours"), slow_decision)
        assert other[0].stdout is not None
        answer = other[0].stdout.readline().strip()
        done.touch()
        _, err = other[0].communicate(timeout=60)
        assert other[0].returncode == 0, err
        assert answer == "lost"
        assert "ours" in (leases.current(ws, "campaign_sender:1") or "")


_MARK = """
import sys
from pushdeck.core.store import Workspace
from pushdeck.core.store.journal import mark_in_flight_while_sending
with Workspace.open(sys.argv[1]) as ws:
    ids = [r[0] for r in ws.query("SELECT device_id FROM journal WHERE state = 'queued'")]
    print(repr(mark_in_flight_while_sending(ws, int(sys.argv[2]), ids)))
"""


def test_no_send_is_marked_in_flight_after_another_process_paused(pg_database: str) -> None:
    with Workspace.open(pg_database) as ws:
        add_app(ws, App("shop", apns_topic="com.example.shop"))
        add_devices(ws, [{"token": f"p{i}"} for i in range(20)])
        doc = {"name": "P", "app": "shop", "audience": {"all": True}, "message": {"title": "x"}}
        campaign = create_campaign(ws, spec_from_dict(doc))
        materialize(ws, campaign, [ProviderKind.APNS])
        set_status(ws, "P", CampaignStatus.SENDING)
        # Another client pauses the campaign; its transaction has not committed yet
        # when the sender checks the status and marks its page.
        with psycopg.connect(pg_database, autocommit=True) as pauser:
            pauser.execute("BEGIN")
            pauser.execute("UPDATE campaigns SET status = 'paused' WHERE id = %s", (campaign.id,))
            sender = _python(_MARK, pg_database, str(campaign.id))
            time.sleep(1.0)  # the sender reached its status check and waits for the pause
            assert sender.poll() is None
            pauser.execute("COMMIT")
        out, err = sender.communicate(timeout=60)
        assert sender.returncode == 0, err
        assert out.strip() == "'paused'"
        assert counts_by_state(ws, campaign.id) == {"queued": 20}


def test_changes_by_another_client_are_seen_by_area(pg_database: str) -> None:
    from pushdeck.core.store.changes import ChangeWatcher
    from pushdeck.core.store.drafts import save_draft
    from pushdeck.core.store.segments import Segment, save_segment

    with Workspace.open(pg_database) as mine, Workspace.open(pg_database) as other:
        add_app(mine, App("shop", apns_topic="com.example.shop"))
        watcher = ChangeWatcher(mine)
        assert watcher.poll() == frozenset()
        save_segment(other, Segment("ios", {"field": "platform", "op": "=", "value": "ios"}))
        assert watcher.poll() == {"segments"}
        assert watcher.poll() == frozenset()  # reported once
        add_devices(other, [{"token": "n1"}])
        assert watcher.poll() == {"devices"}
        save_draft(other, "composer", {"version": 1})
        assert watcher.poll() == frozenset()  # a draft is on no page
        doc = {"name": "W", "app": "shop", "audience": {"all": True}, "message": {"title": "x"}}
        create_campaign(mine, spec_from_dict(doc))  # its own writes too
        assert watcher.poll() == {"campaigns"}
