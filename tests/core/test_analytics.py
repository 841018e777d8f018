"""Analytics equal hand-computed values on a small fixture campaign."""

from __future__ import annotations

import pytest

from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.engagement.events import record_events
from pushdeck.core.reports.analytics import (
    TimePoint,
    action_counts,
    campaign_report,
    funnel,
    opens_over_time,
    overall,
    reasons,
)
from pushdeck.core.store import Workspace
from tests.core.campaign_helpers import add_devices

# device: (platform, locale, variant, state, reason)
JOURNAL = {
    1: ("ios", "en", "A", "accepted", ""),
    2: ("ios", "en", "A", "accepted", ""),
    3: ("ios", "pt-BR", "B", "accepted", ""),
    4: ("android", "en", "B", "accepted", ""),
    5: ("android", "pt-BR", "A", "rejected", "InvalidRegistration"),
    6: ("android", "en", "B", "dead", "UNREGISTERED"),
    7: ("web", "en", "A", "excluded", "opted_out"),
    8: ("web", "pt-BR", "control", "control", ""),
    9: ("ios", "en", "A", "rejected", "BadDeviceToken"),
    10: ("web", "en", "B", "accepted", ""),
}
# (device, kind, time after 09:00, action)
EVENTS = [
    (1, "delivered", "09:00:30", ""),
    (1, "opened", "09:01:10", ""),
    (2, "delivered", "09:00:40", ""),
    (2, "opened", "09:05:00", ""),
    (2, "opened", "10:10:00", ""),  # a second open of the same device counts once
    (3, "delivered", "09:01:00", ""),
    (3, "action", "09:02:00", "buy"),
    (3, "action", "09:03:00", "buy"),
    (4, "delivered", "09:00:10", ""),
    (4, "dismissed", "09:30:00", ""),
    (10, "opened", "09:59:59", ""),  # opened without a delivery report (web)
]


@pytest.fixture
def fixture(ws: Workspace) -> Workspace:
    platforms = {"ios": "apns", "android": "fcm", "web": "webpush"}
    add_devices(
        ws,
        [{"token": f"t{i}", "provider": platforms[v[0]]} for i, v in sorted(JOURNAL.items())],
    )
    doc = {"name": "C1", "app": "shop", "audience": {"all": True}, "message": {"title": "x"}}
    campaign = create_campaign(ws, spec_from_dict(doc))
    ws.conn.execute("UPDATE campaigns SET started_at = '2026-05-01T09:00:00Z'")
    ids = dict(ws.query("SELECT token, id FROM devices").__iter__())
    ws.conn.executemany(
        "INSERT INTO journal (campaign_id, device_id, platform, locale, variant, state, reason)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(campaign.id, ids[f"t{i}"], *values) for i, values in JOURNAL.items()],
    )
    report = record_events(
        ws,
        [
            {
                "event_id": f"e{n}",
                "kind": kind,
                "campaign": "C1",
                "device": f"t{device}",
                "at": f"2026-05-01T{at}Z",
                "action_id": action,
            }
            for n, (device, kind, at, action) in enumerate(EVENTS)
        ],
    )
    assert report.recorded == len(EVENTS), report.errors
    return ws


def test_overall_funnel_and_rates(fixture: Workspace) -> None:
    row = overall(fixture, "C1")
    assert (row.targeted, row.excluded, row.control, row.queued) == (10, 1, 1, 0)
    assert (row.sent, row.accepted, row.rejected, row.dead) == (8, 5, 2, 1)
    assert (row.delivered, row.opened, row.actions, row.dismissed) == (4, 4, 2, 1)
    assert row.acceptance_rate == 5 / 8
    assert row.delivery_rate == 4 / 5
    assert row.open_rate_of_accepted == 4 / 5
    assert row.open_rate_of_delivered == 1.0


def test_by_platform(fixture: Workspace) -> None:
    rows = {r.group: r for r in funnel(fixture, "C1", "platform")}
    ios, android, web = rows["ios"], rows["android"], rows["web"]
    assert (ios.targeted, ios.sent, ios.accepted, ios.rejected) == (4, 4, 3, 1)
    assert (ios.delivered, ios.opened, ios.actions) == (3, 3, 2)
    assert (android.targeted, android.accepted, android.rejected, android.dead) == (3, 1, 1, 1)
    assert (android.delivered, android.opened, android.dismissed) == (1, 0, 1)
    assert android.open_rate_of_accepted == 0.0
    assert (web.targeted, web.excluded, web.control, web.accepted, web.opened) == (3, 1, 1, 1, 1)
    assert web.delivered == 0 and web.open_rate_of_delivered is None  # no data, not 0 %


def test_by_variant_and_locale(fixture: Workspace) -> None:
    variants = {r.group: r for r in funnel(fixture, "C1", "variant")}
    assert (variants["A"].targeted, variants["A"].accepted, variants["A"].opened) == (5, 2, 2)
    assert (variants["B"].targeted, variants["B"].accepted, variants["B"].opened) == (4, 3, 2)
    assert variants["control"].control == 1
    locales = {r.group: r for r in funnel(fixture, "C1", "locale")}
    assert (locales["en"].targeted, locales["en"].opened) == (7, 3)
    assert (locales["pt-BR"].targeted, locales["pt-BR"].opened) == (3, 1)


def test_reasons_and_actions(fixture: Workspace) -> None:
    assert reasons(fixture, "C1", "rejected") == [("BadDeviceToken", 1), ("InvalidRegistration", 1)]
    assert reasons(fixture, "C1", "dead") == [("UNREGISTERED", 1)]
    assert reasons(fixture, "C1", "excluded") == [("opted_out", 1)]
    assert action_counts(fixture, "C1") == [("buy", 2)]


def test_opens_over_time(fixture: Workspace) -> None:
    assert opens_over_time(fixture, "C1") == [
        TimePoint(1, 1, 1),
        TimePoint(2, 1, 2),
        TimePoint(5, 1, 3),
        TimePoint(59, 1, 4),
    ]
    assert opens_over_time(fixture, "C1", unit="hour") == [TimePoint(0, 4, 4)]


def test_report_is_json_ready_and_names_denominators(fixture: Workspace) -> None:
    import json

    report = campaign_report(fixture, "C1")
    json.dumps(report)
    assert report["overall"]["open_rate_of_accepted"] == 0.8
    assert report["definitions"]["open_rate_of_delivered"].startswith("opened ÷ delivered")
    assert report["rejected_by_reason"] == {"BadDeviceToken": 1, "InvalidRegistration": 1}


def test_migration_backfills_engagement_of_existing_events(tmp_path: object) -> None:
    """A workspace sent and reported before migration 3 gets its journal rollups."""
    import sqlite3
    from pathlib import Path

    from pushdeck.core.store.schema import APPLICATION_ID, MIGRATIONS
    from pushdeck.core.store.workspace import _statements

    path = Path(str(tmp_path)) / "old.pushdeck"
    conn = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:2]:
        for statement in _statements(script):
            conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 2")
    conn.executescript(
        "INSERT INTO apps (id, name, created_at) VALUES (1, 'shop', '');"
        "INSERT INTO devices (id, app_id, platform, provider, token, created_at)"
        " VALUES (1, 1, 'ios', 'apns', 't1', '');"
        "INSERT INTO campaigns (id, name, app_id, status, spec, created_at, updated_at)"
        " VALUES (1, 'C1', 1, 'sent', '{}', '', '');"
        "INSERT INTO journal (campaign_id, device_id, state) VALUES (1, 1, 'accepted');"
        "INSERT INTO events (event_id, campaign_id, device_id, kind, at, received_at) VALUES"
        " ('a', 1, 1, 'action', '2026-05-01T09:05:00Z', ''),"
        " ('b', 1, 1, 'opened', '2026-05-01T09:02:00Z', ''),"
        " ('c', 1, 1, 'delivered', '2026-05-01T09:00:01Z', '');"
    )
    conn.close()
    with Workspace.open(path) as ws:
        row = ws.query("SELECT delivered_at, opened_at, dismissed_at, actions FROM journal")[0]
    assert tuple(row) == ("2026-05-01T09:00:01Z", "2026-05-01T09:02:00Z", None, 1)
