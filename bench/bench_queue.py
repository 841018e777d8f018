"""Queueing a campaign on a shared PostgreSQL workspace: how long ``pushdeck campaigns
queue`` takes to write the journal of N devices (issue 18's finding: 80-97 s for
100,000 with a per-row summary trigger).

    python bench/bench_queue.py [--devices 100000] [--runs 1] [--variants]

Uses the server of ``$PUSHDECK_TEST_PG_ADMIN_DSN`` / ``$PUSHDECK_TEST_PG_USER_DSN`` when set,
else starts a throwaway one (scripts/pg_throwaway). Each run: a fresh database, N devices
and a campaign (bench_workers.build), then ``pushdeck campaigns queue`` in its own process,
timed from start to exit. After it, the summary (``journal_summary``) is checked equal to a
GROUP BY of the journal. ``--variants`` gives the campaign two variants and a hold-out, so
each device's arm is hashed. The machine's load average is printed with each line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "src"))
sys.path.insert(2, str(ROOT / "bench"))

SUMMARY_MISMATCH = """
SELECT count(*) FROM (
    SELECT campaign_id, platform, variant, locale, state, n, delivered, opened, actions, dismissed
    FROM journal_summary WHERE n <> 0
    EXCEPT
    SELECT campaign_id, coalesce(platform, ''), variant, coalesce(locale, ''),
           CASE WHEN state = 'in_flight' THEN 'queued' ELSE state END, count(*),
           count(delivered_at), count(opened_at), coalesce(sum(actions), 0), count(dismissed_at)
    FROM journal GROUP BY 1, 2, 3, 4, 5
) AS differing
"""


def with_variants(uri: str) -> None:
    """Give campaign 'bench' two variants and a 10% hold-out (every device is hashed)."""
    from pushdeck.core.campaigns.library import get_campaign, update_campaign
    from pushdeck.core.campaigns.spec import spec_from_dict, spec_to_dict
    from pushdeck.core.store import Workspace

    with Workspace.open(uri) as ws:
        doc = spec_to_dict(get_campaign(ws, "bench").spec)
        doc["variants"] = [
            {"name": "A", "percent": 50},
            {"name": "B", "percent": 50, "message": {"title": "Hi"}},
        ]
        doc["control_percent"] = 10
        update_campaign(ws, "bench", spec_from_dict(doc))


def one_run(admin: str, user: str, devices: int, variants: bool) -> str:
    from bench_pg import _drop, _new_database
    from bench_workers import build, prepare

    from pushdeck.core.store import Workspace

    uri = _new_database(admin, user)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp)
            env = prepare(directory)
            # Nothing is sent: the credential needs an endpoint, not a server.
            (directory / "apns.json").write_text(json.dumps({"url": "https://127.0.0.1:9"}))
            build(uri, directory, devices)
            if variants:
                with_variants(uri)
            load = os.getloadavg()[0]
            started = time.monotonic()
            subprocess.run(
                [sys.executable, "-m", "pushdeck", "--workspace", uri, "campaigns", "queue",
                 "bench"],
                env=env, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            seconds = time.monotonic() - started
        with Workspace.open(uri) as ws:
            rows = ws.scalar("SELECT count(*) FROM journal")
            arms = ws.query("SELECT variant, count(*) FROM journal GROUP BY 1 ORDER BY 1")
            differing = ws.scalar(SUMMARY_MISMATCH)
    finally:
        _drop(admin, uri)
    return (
        f"{devices:,} devices{' (variants + hold-out)' if variants else ''}: "
        f"'campaigns queue' {seconds:.1f} s, {rows:,} journal rows "
        f"{dict((a[0], a[1]) for a in arms)}, summary rows differing from GROUP BY: "
        f"{differing}, load {load:.2f} before / {os.getloadavg()[0]:.2f} after"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--variants", action="store_true")
    args = parser.parse_args()
    from bench_pg import _server

    admin, user, started_pg = _server()
    try:
        for _ in range(args.runs):
            print(one_run(admin, user, args.devices, args.variants), flush=True)
    finally:
        if started_pg is not None:
            subprocess.run([str(ROOT / "scripts" / "pg_throwaway"), "stop", str(started_pg)])


if __name__ == "__main__":
    main()
