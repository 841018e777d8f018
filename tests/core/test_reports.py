"""Report model: numbers equal hand-computed values on a small fixture campaign."""

from __future__ import annotations

import csv
import hashlib
import io
import re

import pytest

from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import AudienceKind, spec_from_dict
from pushdeck.core.common.errors import ConfigError
from pushdeck.core.reports.analytics import FunnelRow
from pushdeck.core.reports.dashboard import (
    ReportCache,
    dashboard_data,
    render_html,
    send_winner_to_rest,
    write_aggregates_csv,
    write_devices_csv,
)
from pushdeck.core.reports.data import (
    MIN_ACCEPTED,
    ab_test,
    across_campaigns,
    token_hasher,
    two_proportion_p_value,
    wilson_interval,
)
from pushdeck.core.store import Workspace
from tests.core.campaign_helpers import add_devices
from tests.core.report_cases import CASES, build_cases

# token: (platform, locale, variant, state, reason)
JOURNAL = {
    "t1": ("ios", "en", "A", "accepted", ""),
    "t2": ("ios", "en", "A", "accepted", ""),
    "t3": ("ios", "pt-BR", "B", "accepted", ""),
    "t4": ("android", "en", "B", "accepted", ""),
    "t5": ("android", "pt-BR", "A", "rejected", "InvalidRegistration"),
    "t6": ("android", "en", "B", "dead", "UNREGISTERED"),
    "t7": ("web", "en", "A", "excluded", "opted_out"),
    "t8": ("web", "pt-BR", "control", "control", ""),
    "t9": ("ios", "en", "control", "control", ""),
    "t10": ("web", "en", "B", "accepted", ""),
}
# (token, kind, time, action)
EVENTS = [
    ("t1", "delivered", "09:00:30", ""),
    ("t1", "opened", "09:01:10", ""),
    ("t2", "delivered", "09:00:40", ""),
    ("t2", "opened", "09:05:00", ""),
    ("t2", "opened", "10:10:00", ""),  # a second open counts once
    ("t3", "delivered", "09:01:00", ""),
    ("t3", "action", "09:02:00", "buy"),
    ("t3", "action", "09:03:00", "buy"),
    ("t4", "delivered", "09:00:10", ""),
    ("t4", "dismissed", "09:30:00", ""),
    ("t10", "opened", "10:59:59", ""),  # opened without a delivery report (web)
]
SPEC = {
    "name": "C1",
    "app": "shop",
    "audience": {"all": True},
    "message": {"title": "Sale", "body": "20 % off"},
    "variants": [
        {"name": "A", "percent": 50},
        {"name": "B", "percent": 50, "message": {"body": "Last chance"}},
    ],
    "control_percent": 20,
}


def build(ws: Workspace, spec: dict[str, object] = SPEC) -> None:
    providers = {"ios": "apns", "android": "fcm", "web": "webpush"}
    add_devices(ws, [{"token": t, "provider": providers[v[0]]} for t, v in JOURNAL.items()])
    campaign = create_campaign(ws, spec_from_dict(spec))
    ids = {r[0]: r[1] for r in ws.query("SELECT token, id FROM devices")}
    with ws.transaction() as conn:
        conn.execute(
            "UPDATE campaigns SET status = 'sent', started_at = '2026-05-01T09:00:00Z'"
            " WHERE id = ?",
            (campaign.id,),
        )
        conn.executemany(
            "INSERT INTO journal (campaign_id, device_id, platform, locale, variant, state,"
            " reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(campaign.id, ids[t], *v) for t, v in JOURNAL.items()],
        )
        conn.executemany(
            "INSERT INTO events (event_id, campaign_id, device_id, kind, action_id, at,"
            " received_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (f"e{i}", campaign.id, ids[t], kind, action, *[f"2026-05-01T{at}Z"] * 2)
                for i, (t, kind, at, action) in enumerate(EVENTS)
            ],
        )


@pytest.fixture
def data(ws: Workspace):  # type: ignore[no-untyped-def]
    build(ws)
    return dashboard_data(ws, "C1")


def test_funnel_stages_are_hand_counted(data) -> None:  # type: ignore[no-untyped-def]
    got = {s.key: (s.count, s.denominator_key, s.denominator) for s in data.stages}
    assert got == {
        "targeted": (10, None, None),
        "sent": (7, "targeted", 10),  # 5 accepted + t5 rejected + t6 dead
        "accepted": (5, "sent", 7),  # t1 t2 t3 t4 t10
        "delivered": (4, "accepted", 5),  # t1 t2 t3 t4
        "opened": (4, "accepted", 5),  # t1 t2 t3 (action) t10
    }
    assert data.stages[4].rate_text == "80.0 % of accepted"
    assert data.overall.actions == 2 and data.overall.dismissed == 1
    assert data.overall.control == 2 and data.overall.excluded == 1


def test_groups_are_hand_counted(data) -> None:  # type: ignore[no-untyped-def]
    platform = {r.group: (r.targeted, r.accepted, r.opened) for r in data.by_platform}
    assert platform == {"ios": (4, 3, 3), "android": (3, 1, 0), "web": (3, 1, 1)}
    variant = {r.group: (r.accepted, r.opened) for r in data.by_variant}
    assert variant == {"A": (2, 2), "B": (3, 2), "control": (0, 0)}
    locale = {r.group: r.targeted for r in data.by_locale}
    assert locale == {"en": 7, "pt-BR": 3}


def test_reasons_actions_and_time_series(data) -> None:  # type: ignore[no-untyped-def]
    assert data.reasons == {
        "dead": [("UNREGISTERED", 1)],
        "excluded": [("opted_out", 1)],
        "rejected": [("InvalidRegistration", 1)],
    }
    assert data.actions == (("buy", 2),)
    # first opens: t1 09:01:10 (min 1), t2 09:05 (min 5), t3 09:02 (min 2), t10 10:59:59 (min 119)
    assert [(p.offset, p.count, p.cumulative) for p in data.opens_per_minute] == [
        (1, 1, 1),
        (2, 1, 2),
        (5, 1, 3),
        (119, 1, 4),
    ]
    assert [(p.offset, p.count, p.cumulative) for p in data.opens_per_hour] == [
        (0, 3, 3),
        (1, 1, 4),
    ]


def test_small_ab_test_says_not_enough_data(data) -> None:  # type: ignore[no-untyped-def]
    assert data.ab is not None
    assert not data.ab.enough_data and data.ab.winner is None
    assert data.ab.verdict.startswith("Not enough data")
    assert str(MIN_ACCEPTED) in data.ab.verdict


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(5, 10)  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    low, high = wilson_interval(0, 10)  # type: ignore[misc]
    assert low == 0.0 and round(high, 4) == 0.2775
    assert wilson_interval(0, 0) is None


def test_two_proportion_test_known_value() -> None:
    # 45/100 vs 30/100: pooled 0.375, z = 2.1909, two-sided p = 0.02846
    assert two_proportion_p_value(45, 100, 30, 100) == pytest.approx(0.02846, abs=5e-5)
    assert two_proportion_p_value(10, 100, 10, 100) == pytest.approx(1.0)
    assert two_proportion_p_value(1, 0, 1, 10) is None


def _row(group: str, accepted: int, opened: int) -> FunnelRow:
    return FunnelRow(group, accepted, 0, 0, 0, 0, 0, accepted, accepted, 0, 0, 0, opened, 0, 0)


def test_ab_verdicts() -> None:
    win = ab_test([_row("A", 1000, 100), _row("B", 1000, 150), _row("control", 0, 0)])
    assert win is not None and win.winner == "B" and win.significant
    assert win.verdict.startswith("B wins")
    tie = ab_test([_row("A", 1000, 100), _row("B", 1000, 110)])
    assert tie is not None and tie.winner is None and tie.enough_data
    assert tie.verdict.startswith("No clear winner")
    assert ab_test([_row("A", 1000, 100)]) is None


def test_token_hashing_is_salted_and_truncated() -> None:
    _, hasher = token_hasher(salt=b"salt")
    assert hasher("tok") == hashlib.sha256(b"salttok").hexdigest()[:16]
    _, other = token_hasher()
    _, another = token_hasher()
    assert other("tok") != another("tok")  # a fresh salt per export
    _, raw = token_hasher(raw=True)
    assert raw("tok") == "tok"


def test_device_csv_hashes_tokens_unless_raw(ws: Workspace) -> None:
    build(ws)
    out = io.StringIO()
    assert write_devices_csv(ws, "C1", out) == 10
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert all(re.fullmatch(r"[0-9a-f]{16}", r["device"]) for r in rows)
    assert not any(r["device"].startswith("t") and r["device"] in JOURNAL for r in rows)
    t3 = next(r for r in rows if r["opened_at"] == "2026-05-01T09:02:00Z")
    assert (t3["variant"], t3["actions"]) == ("B", "2")
    raw = io.StringIO()
    write_devices_csv(ws, "C1", raw, raw_tokens=True)
    assert {r["device"] for r in csv.DictReader(io.StringIO(raw.getvalue()))} == set(JOURNAL)


def test_aggregates_csv(data) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    write_aggregates_csv(data, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    overall = rows[0]
    assert (overall["dimension"], overall["accepted"], overall["opened"]) == ("overall", "5", "4")
    assert overall["open_rate_of_accepted"] == "0.800000"
    ios = next(r for r in rows if r["dimension"] == "platform" and r["group"] == "ios")
    assert ios["targeted"] == "4"


def test_html_is_self_contained(data) -> None:  # type: ignore[no-untyped-def]
    page = render_html(data, {"Funnel": b"\x89PNG fake"}, preview_png=b"\x89PNG p")
    assert page.count("data:image/png;base64,") == 2
    assert "src='http" not in page and "<script" not in page
    assert "Not proof of delivery" in page and "80.0 % of accepted" in page
    assert "Last chance" in page  # the message as sent, variant B


def test_send_winner_to_the_held_out_devices(ws: Workspace) -> None:
    build(ws)
    with pytest.raises(ConfigError, match="no significant winner"):
        send_winner_to_rest(ws, "C1")
    follow = send_winner_to_rest(ws, "C1", variant="B", new_name="C1 rest")
    assert follow.spec.audience.kind is AudienceKind.TOKENS
    assert sorted(follow.spec.audience.tokens) == ["t8", "t9"]
    assert [(v.name, v.percent) for v in follow.spec.variants] == [("B", 100.0)]
    assert follow.spec.variants[0].overrides == {"body": "Last chance"}
    assert follow.spec.control_percent == 0 and str(follow.status) == "draft"


def test_across_campaigns_filters(ws: Workspace) -> None:
    build(ws)
    rows = across_campaigns(ws, since="2026-05-01", until="2026-05-31")
    assert [(r.name, r.accepted, r.opened) for r in rows] == [("C1", 5, 4)]
    assert rows[0].open_rate == pytest.approx(0.8)
    ios = across_campaigns(ws, platform="ios")
    assert (ios[0].targeted, ios[0].accepted, ios[0].opened) == (4, 3, 3)
    assert across_campaigns(ws, since="2026-06") == []
    assert across_campaigns(ws, app="other") == []
    assert across_campaigns(ws, segment="vip") == []


def test_cache_reuses_data_until_an_event_or_status_changes(ws: Workspace) -> None:
    build(ws)
    cache = ReportCache()
    first = dashboard_data(ws, "C1", cache)
    assert dashboard_data(ws, "C1", cache) is first
    device = ws.scalar("SELECT id FROM devices WHERE token = 't4'")
    with ws.transaction() as conn:
        conn.execute(
            "INSERT INTO events (event_id, campaign_id, device_id, kind, at, received_at)"
            " VALUES ('late', 1, ?, 'opened', '2026-05-01T12:00:00Z', '2026-05-01T12:00:00Z')",
            (device,),
        )
    second = dashboard_data(ws, "C1", cache)
    assert second is not first and second.overall.opened == first.overall.opened + 1
    ws.conn.execute("UPDATE campaigns SET status = 'sending' WHERE name = 'C1'")
    assert dashboard_data(ws, "C1", cache) is not dashboard_data(ws, "C1", cache)


def test_reason_and_action_queries_use_the_report_indexes(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws  # SQLite's query planner
    build(ws)
    plans = [
        " ".join(r[3] for r in ws.query("EXPLAIN QUERY PLAN " + sql))
        for sql in (
            "SELECT state, reason, count(*) FROM journal WHERE campaign_id = 1"
            " AND state IN ('rejected', 'dead', 'excluded', 'skipped') GROUP BY state, reason",
            "SELECT action_id, count(*) FROM events WHERE campaign_id = 1 AND kind = 'action'"
            " GROUP BY action_id",
        )
    ]
    assert "COVERING INDEX journal_reasons" in plans[0]
    assert "COVERING INDEX events_actions" in plans[1]


@pytest.mark.parametrize("name", list(CASES))
def test_every_core_export_works_for_empty_and_unfinished_campaigns(
    ws: Workspace, name: str
) -> None:
    """A draft, nothing accepted, no events, still sending: data, CSV and HTML all work."""
    build_cases(ws)
    data = dashboard_data(ws, name)
    status, states, variants = CASES[name]
    assert str(data.campaign.status) == status
    assert data.overall.targeted == len(states)
    assert data.overall.accepted == states.count("accepted")
    assert data.overall.opened == 0 and not data.opens_per_minute
    assert bool(data.by_variant) == (variants and bool(states))
    aggregates = io.StringIO()
    write_aggregates_csv(data, aggregates)
    overall = next(csv.DictReader(io.StringIO(aggregates.getvalue())))
    rate = "0.000000" if "accepted" in states else ""  # no rate without a denominator
    assert (overall["targeted"], overall["open_rate_of_accepted"]) == (str(len(states)), rate)
    devices = io.StringIO()
    assert write_devices_csv(ws, name, devices) == len(states)
    page = render_html(data, {"Funnel": b"\x89PNG fake"}, preview_png=None)
    assert name in page and "Not proof of delivery" in page
