"""Report dashboard: how long the dashboard data of a 1,000,000-recipient campaign takes.

    /work/venv/bin/python bench/bench_reports.py [--rows 1000000] [--rounds 5] [--keep PATH]

The rows are generated straight into a fresh workspace with ``executemany`` (devices,
one journal row per device, engagement events: ~95 % delivered, ~14 % opened, ~5 %
action, ~20 % dismissed), then the workspace is closed and re-opened so every timed
round starts from a cold connection's page cache of the OS (SQLite's own cache is
per connection). Timed: ``pushdeck.core.reports.dashboard.dashboard_data`` — everything the
Reports page shows for one campaign (funnel overall and per platform / locale /
variant, reasons, dead tokens, actions, opens per minute and per hour, A/B test).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from pushdeck.core.campaigns.library import create_campaign, set_status  # noqa: E402
from pushdeck.core.campaigns.spec import spec_from_dict  # noqa: E402
from pushdeck.core.common.model import App  # noqa: E402
from pushdeck.core.reports.dashboard import ReportCache, dashboard_data  # noqa: E402
from pushdeck.core.store.apps import add_app  # noqa: E402
from pushdeck.core.store.workspace import Workspace  # noqa: E402

NAME = "bench campaign"
PLATFORMS = (("ios", "apns"), ("android", "fcm"), ("web", "webpush"))
LOCALES = ("en-US", "pt-BR", "es-ES", "de-DE", "fr-FR", "ja-JP")


def generate(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with Workspace.open(path) as ws:
        add_app(ws, App("bench"))
        spec = {
            "name": NAME,
            "app": "bench",
            "audience": {"all": True},
            "message": {"title": "Bench", "body": "Body"},
            "variants": [{"name": "A", "percent": 50}, {"name": "B", "percent": 50}],
            "control_percent": 10,
        }
        campaign = create_campaign(ws, spec_from_dict(spec))
        set_status(ws, NAME, campaign.status.SENT, started=True, finished=True)
        started = ws.scalar("SELECT started_at FROM campaigns WHERE id = ?", (campaign.id,))
        base = time.mktime(time.strptime(started, "%Y-%m-%dT%H:%M:%SZ"))
        conn = ws.conn
        conn.execute("PRAGMA synchronous = OFF")
        devices, journal, events = [], [], []
        for i in range(1, rows + 1):
            platform, provider = PLATFORMS[i % 3]
            locale = LOCALES[i % len(LOCALES)]
            devices.append(
                (i, 1, platform, provider, f"tok-{i:09d}", locale, "2026-01-01T00:00:00Z")
            )
            arm = "control" if i % 10 == 0 else ("A" if i % 2 else "B")
            roll = rng.random()
            state, reason = "accepted", ""
            if arm == "control":
                state = "control"
            elif roll < 0.01:
                state, reason = "rejected", "BadDeviceToken"
            elif roll < 0.02:
                state, reason = "dead", "Unregistered"
            elif roll < 0.05:
                state, reason = "excluded", "opted_out"
            journal.append((campaign.id, i, arm, state, reason, platform, locale))
            if state == "accepted":
                _events(rng, events, campaign.id, i, arm, base)
            if len(devices) >= 50_000:
                _flush(conn, devices, journal, events)
        _flush(conn, devices, journal, events)
        conn.execute("ANALYZE")


def _events(rng: random.Random, out: list[tuple[object, ...]], cid: int, dev: int, arm: str,
            base: float) -> None:  # fmt: skip
    def at(seconds: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + seconds))

    if rng.random() < 0.95:
        out.append((f"d{dev}", cid, dev, arm, "delivered", "", at(rng.random() * 60)))
    rate = 0.12 if arm == "A" else 0.16
    if rng.random() < rate:
        when = rng.expovariate(1 / 3600)
        out.append((f"o{dev}", cid, dev, arm, "opened", "", at(when)))
        if rng.random() < 0.35:
            out.append((f"a{dev}", cid, dev, arm, "action", "shop", at(when + 1)))
    elif rng.random() < 0.2:
        out.append((f"x{dev}", cid, dev, arm, "dismissed", "", at(rng.random() * 7200)))


def _flush(conn, devices, journal, events) -> None:  # type: ignore[no-untyped-def]
    with conn:
        conn.executemany(
            "INSERT INTO devices (id, app_id, platform, provider, token, locale, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            devices,
        )
        conn.executemany(
            "INSERT INTO journal (campaign_id, device_id, variant, state, reason, platform,"
            " locale) VALUES (?, ?, ?, ?, ?, ?, ?)",
            journal,
        )
        conn.executemany(
            "INSERT INTO events (event_id, campaign_id, device_id, variant, kind, action_id, at,"
            " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?7)",
            events,
        )
    devices.clear()
    journal.clear()
    events.clear()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="generate into (or reuse) this workspace")
    args = parser.parse_args()
    path = args.keep or Path(tempfile.mkdtemp()) / "bench.pushdeck"
    if not path.exists():
        began = time.perf_counter()
        generate(path, args.rows)
        print(f"generated {args.rows:,} journal rows in {time.perf_counter() - began:.1f} s")
    with Workspace.open(path) as ws:
        events = ws.scalar("SELECT count(*) FROM events")
        journal = ws.scalar("SELECT count(*) FROM journal")
        print(f"journal rows: {journal:,}  events: {events:,}")
        cold = _time(args.rounds, lambda: dashboard_data(ws, NAME))
        cache = ReportCache()
        dashboard_data(ws, NAME, cache)
        warm = _time(args.rounds, lambda: dashboard_data(ws, NAME, cache))
        data = dashboard_data(ws, NAME, cache)
        print(f"opened={data.overall.opened:,} accepted={data.overall.accepted:,}")
    _print("no cache (first open; after new events)", cold)
    _print("cached, nothing changed (re-open, live poll)", warm)


def _time(rounds: int, fn: Callable[[], object]) -> list[float]:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    return times


def _print(label: str, times: list[float]) -> None:
    print(
        f"dashboard_data, {label}: "
        + ", ".join(f"{t:.1f}" for t in times)
        + f" ms (median {statistics.median(times):.1f}, best {min(times):.1f})"
    )


if __name__ == "__main__":
    main()
