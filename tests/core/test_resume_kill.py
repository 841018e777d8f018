"""Kill -9 at random points during a campaign, resume each time: nothing lost.

Size and kill count are configurable: PUSHDECK_KILL_DEVICES (default 20000) and
PUSHDECK_KILL_TIMES (default 10).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from pushdeck.core.campaigns.library import create_campaign, get_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.campaigns.variants import notification_id
from pushdeck.core.store import Workspace
from tests.core.campaign_helpers import add_devices

DEVICES = int(os.environ.get("PUSHDECK_KILL_DEVICES", "20000"))
KILLS = int(os.environ.get("PUSHDECK_KILL_TIMES", "10"))
ROOT = Path(__file__).parents[2]


def _worker(workspace: Path | str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}"}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.core.resume_worker", str(workspace), str(log)],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
    )


_DONE = "SELECT count(*) FROM journal WHERE state NOT IN ('queued', 'in_flight')"


def _progress(path: Path | str) -> int:
    if isinstance(path, str):  # PostgreSQL: another client of the server
        with Workspace.open(path, create=False) as other:
            return int(other.scalar(_DONE) or 0)
    # A plain read-only connection: WAL lets it read while the worker writes.
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        done = conn.execute(_DONE).fetchone()[0]
    finally:
        conn.close()
    return int(done or 0)


def _wait_for_sending(path: Path | str, worker: subprocess.Popen[bytes], before: int) -> None:
    deadline = time.monotonic() + 30
    while worker.poll() is None and time.monotonic() < deadline:
        if _progress(path) > before:
            return
        time.sleep(0.02)


def test_kill_nine_and_resume(ws: Workspace, ws_target: Path | str, tmp_path: Path) -> None:
    tokens = [f"{i:064x}" for i in range(DEVICES)]
    add_devices(ws, [{"token": t} for t in tokens])
    doc = {"name": "K", "app": "shop", "audience": {"all": True}, "message": {"title": "x"}}
    create_campaign(ws, spec_from_dict(doc))
    path, log = ws_target, tmp_path / "seen.log"
    rng = random.Random(4)
    kills = 0
    while kills < KILLS:
        before = _progress(path)
        worker = _worker(path, log)
        _wait_for_sending(path, worker, before)
        time.sleep(rng.uniform(0.0, 0.4))  # then somewhere in the middle of sending
        if worker.poll() is not None:
            break  # finished before we could kill it: the campaign is done
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        kills += 1
        after = _progress(path)
        print(f"kill {kills}: {before} -> {after}")
        assert after >= before
    final = _worker(path, log)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode()

    campaign = get_campaign(ws, "K")
    assert campaign.status.value == "sent"
    states = dict(ws.query("SELECT state, count(*) FROM journal GROUP BY state").__iter__())
    assert states == {"accepted": DEVICES}  # no device lost
    seen = Counter(log.read_text().split())
    ids = {notification_id("K", "shop", t): i + 1 for i, t in enumerate(tokens)}
    assert set(seen) == set(ids)  # every device reached the provider
    duplicated = {ids[n] for n, c in seen.items() if c > 1}
    flagged = {
        r[0] for r in ws.query("SELECT device_id FROM journal WHERE possibly_duplicated > 0")
    }
    # Duplicates happen only among sends whose outcome a kill left unknown, and never
    # more often than reported.
    assert duplicated <= flagged
    extra_sends = sum(c - 1 for c in seen.values())
    reported = ws.scalar("SELECT sum(possibly_duplicated) FROM journal") or 0
    assert extra_sends <= reported
    print(f"kills={kills} flagged={len(flagged)} duplicated={len(duplicated)}")
