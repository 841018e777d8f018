"""One workspace file shared the way users share it: the app, its jobs, the CLI, cron and
the collector, each with its own connection, for as long as they like.

The app holds a connection for hours and its jobs open and close their own in the same
process. On POSIX, closing any descriptor of the file in that process (a header read with
``open()``) drops SQLite's locks on it; the next process then checkpoints and deletes the
WAL under the app, whose later writes go to an unlinked file and are lost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.model import App, ProviderKind
from pushdeck.core.credentials import secrets
from pushdeck.core.engagement.collector import collector_token
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from tests.core.campaign_helpers import add_devices

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="reads /proc/self/fd (Linux)"
)


PUSHDECK = [sys.executable, "-m", "pushdeck"]


def cli(path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PUSHDECK, "--workspace", str(path), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def deleted_files_held(path: Path) -> list[str]:
    """This process's descriptors on ``path``'s files that were unlinked under it."""
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(path)) and target.endswith("(deleted)"):
            held.append(target)
    return held


def query(path: Path, sql: str) -> object:
    """One value read by a new process, as another user of the file would see it."""
    code = (
        "import sqlite3, sys, json; c = sqlite3.connect(sys.argv[1]); "
        "print(json.dumps(c.execute(sys.argv[2]).fetchone()[0]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), sql],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout)


def test_cli_commands_beside_the_app_cost_it_none_of_its_writes(tmp_path: Path) -> None:
    path = tmp_path / "w.pushdeck"
    app = Workspace.open(path)  # the app: one connection for the whole session
    try:
        add_app(app, App("shop"))
        add_devices(app, [{"token": f"t{i}"} for i in range(5)])
        Workspace.open(path).close()  # one of the app's jobs, in the same process
        for args in (["campaigns", "list"], ["apps", "list"], ["devices", "count"]):
            done = cli(path, *args)
            assert done.returncode == 0, done.stderr
        assert deleted_files_held(path) == []

        add_app(app, App("written-after"))  # the app keeps working...
        add_devices(app, [{"token": f"late{i}"} for i in range(3)], app="written-after")
        assert deleted_files_held(path) == []
        # ...and a new process sees it, while the app is still open.
        listed = json.loads(cli(path, "apps", "list", "--json").stdout)
        assert "written-after" in [a["name"] for a in listed]
        assert cli(path, "devices", "count").stdout.strip() == "8"
    finally:
        app.close()
    assert query(path, "SELECT count(*) FROM devices") == 8


def test_the_wal_survives_many_jobs_opening_and_closing_beside_the_app(tmp_path: Path) -> None:
    path = tmp_path / "w.pushdeck"
    app = Workspace.open(path)
    try:
        add_app(app, App("shop"))
        for round_ in range(5):
            for _ in range(3):
                with Workspace.open(path) as job:
                    job.scalar("SELECT count(*) FROM devices")
            assert cli(path, "devices", "count").returncode == 0
            add_devices(app, [{"token": f"r{round_}"}])
        assert deleted_files_held(path) == []
        assert cli(path, "devices", "count").stdout.strip() == "5"
    finally:
        app.close()


# --------------------------------------------------------------------------- soak

SOAK_SECONDS = 60


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A sandbox workspace with a sent campaign the collector can receive events for."""
    path = tmp_path / "w.pushdeck"
    with Workspace.open(path) as ws:
        add_app(ws, App("shop", apns_topic="com.example.shop"))
        add_devices(
            ws, [{"token": f"s{i}", "provider": "sandbox", "platform": "ios"} for i in range(20)]
        )
        secrets.store_credential(
            ws,
            "shop",
            ProviderKind.SANDBOX,
            "sandbox",
            None,
            {"behaviour": {"latency_ms": 0, "failure_rate": 0, "dead_rate": 0}},
        )
        token = collector_token(ws)
    base = tmp_path / "base.json"
    base.write_text(
        json.dumps(
            {"name": "Base", "app": "shop", "audience": {"all": True}, "message": {"title": "x"}}
        )
    )
    assert cli(path, "campaigns", "create", "--file", str(base)).returncode == 0
    sent = cli(path, "campaigns", "send", "Base")
    assert sent.returncode == 0, sent.stderr
    yield path, token


def _start_collector(path: Path, port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [*PUSHDECK, "--workspace", str(path), "collect", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return process
        except httpx.TransportError:
            assert process.poll() is None, process.stderr and process.stderr.read()
            assert time.monotonic() < deadline, "the collector did not start"
            time.sleep(0.1)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_app_collector_and_cron_write_side_by_side_and_nothing_is_lost(
    shared: tuple[Path, str],
) -> None:
    path, token = shared
    port = _free_port()
    url = f"http://127.0.0.1:{port}/events"
    collector = _start_collector(path, port)
    app = Workspace.open(path)
    posted = devices_added = restarts = 0
    campaigns: list[str] = []
    cron: list[subprocess.Popen[str]] = []
    try:
        end = time.monotonic() + SOAK_SECONDS
        step = 0
        while time.monotonic() < end:
            step += 1
            # The app: devices arrive, a campaign is scheduled, a job opens its own connection.
            add_devices(app, [{"token": f"app{step}", "provider": "sandbox", "platform": "ios"}])
            devices_added += 1
            if step % 3 == 0:
                name = f"Soak{step}"
                at = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
                doc = {
                    "name": name,
                    "app": "shop",
                    "audience": {"all": True},
                    "message": {"title": name},
                    "schedule": {"at": at},
                }
                create_campaign(app, spec_from_dict(doc))
                campaigns.append(name)
            with Workspace.open(path) as job:
                job.scalar("SELECT count(*) FROM campaigns")
            # The collector: a batch of events for the sent campaign. Users stop and start
            # it; while it is down the app and cron are the file's only other users.
            if step % 15 == 0:
                collector.terminate()
                assert collector.wait(30) is not None
                for _ in range(3):
                    cli(path, "campaigns", "list")
                    down = {"token": f"down{step}-{_}", "provider": "sandbox", "platform": "ios"}
                    add_devices(app, [down])
                    devices_added += 1
                collector = _start_collector(path, port)
                restarts += 1
            batch = [
                {
                    "event_id": f"soak-{step}-{i}",
                    "kind": "opened",
                    "campaign": "Base",
                    "device": f"s{(step + i) % 20}",
                    "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
                for i in range(5)
            ]
            answer = httpx.post(
                url, json=batch, headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
            assert answer.status_code == 200 and answer.json()["recorded"] == 5, answer.text
            posted += 5
            # Cron: run-due every few steps, overlapping the rest.
            cron = [p for p in cron if p.poll() is None]
            if step % 4 == 0 and len(cron) < 2:
                cron.append(
                    subprocess.Popen(
                        [*PUSHDECK, "--workspace", str(path), "campaigns", "run-due"],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                )
            assert deleted_files_held(path) == [], f"step {step}"
            time.sleep(0.2)
        for process in cron:
            assert process.wait(120) == 0, process.stderr and process.stderr.read()
    finally:
        app.close()
        collector.terminate()
        collector.wait(30)
    last = cli(path, "campaigns", "run-due", timeout=120)  # whatever cron had not reached yet
    assert last.returncode == 0, last.stderr

    # Everything each writer wrote is there for a new process to read.
    assert step > 20 and restarts >= 2  # the soak did run, with every writer taking turns
    added = query(
        path, "SELECT count(*) FROM devices WHERE token GLOB 'app*' OR token GLOB 'down*'"
    )
    assert added == devices_added
    assert query(path, "SELECT count(*) FROM events WHERE event_id LIKE 'soak-%'") == posted
    listing = json.loads(cli(path, "campaigns", "list", "--json").stdout)
    listed = {c["name"]: c["status"] for c in listing}
    assert {name: listed.get(name) for name in campaigns} == dict.fromkeys(campaigns, "sent")
    unsent = query(
        path,
        "SELECT count(*) FROM journal j JOIN campaigns c ON c.id = j.campaign_id"
        " WHERE c.name LIKE 'Soak%' AND j.state NOT IN ('accepted', 'excluded')",
    )
    assert unsent == 0
