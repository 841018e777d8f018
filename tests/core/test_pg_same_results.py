"""The same devices in a SQLite file and in PostgreSQL give the same answers (issue 17).

Hand-picked attribute values of every JSON type (numbers beside numeric text, booleans,
null, arrays, objects, text with LIKE's own characters and non-ASCII letters), every
rule operator on them, and a campaign's variant and hold-out assignment.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pushdeck.core.campaigns.dispatch import materialize
from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.model import App, ProviderKind
from pushdeck.core.store import Workspace
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.apps import add_app
from pushdeck.core.store.segment_rules import compile_rule, parse_rule
from tests.core.campaign_helpers import add_devices

VALUES: list[Any] = [
    0, 1, 2, 17, 18, 18.0, 18.5, -3, 2**62, 0.1, "18", "17", "abc", "ABC", "Ábc", "ábc",
    "a_c", "a%c", "a\\c", "", True, False, None, [1, "x", "18"], ["ABC", True], {"k": 1},
    [], {},
]  # fmt: skip

RULES = [
    *(f"attr.v {op} {value}" for op in ("=", "!=", "<", ">", "<=", ">=")
      for value in ("18", '"18"', "18.5", "0.1", "true", "false", '"abc"', '"b"', "-1")),
    *(f'attr.v contains "{text}"' for text in ("a", "B", "á", "_", "%", "\\\\", "1", "x", "8")),
    "attr.v exists", "attr.v not_exists", "not attr.v exists", "not attr.v = 18",
    "attr.w exists", "attr.v = 18 or attr.v = \"abc\"",
    "locale ^= pt", "locale ^= P_", "locale = pt-BR", "timezone ^= Europe/",
    "tag has vip", "tag lacks vip", "last_seen within 30d", "test = true",
    "locale in (pt-BR, en)", "not (locale ^= pt and tag has vip)",
]  # fmt: skip


def _devices() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    locales = ["pt-BR", "pt", "PT-br", "en", "P_-x", "pt_BR", ""]
    for i, value in enumerate(VALUES):
        rows.append(
            {
                "token": f"t{i:03d}",
                "attributes": {"v": value} if i % 9 else {"w": value, "v": value},
                "locale": locales[i % len(locales)],
                "timezone": ["Europe/Paris", "America/Sao_Paulo", ""][i % 3],
                "tags": ["vip"] if i % 2 else [],
                "test": i % 5 == 0,
                "last_seen": "2026-11-20T00:00:00Z" if i % 4 else None,
            }
        )
    rows.append({"token": "t-missing", "attributes": {}})
    return rows


@pytest.fixture
def both(tmp_path: Path, pg_database: str) -> Iterator[tuple[Workspace, Workspace]]:
    lite, pg = Workspace.open(tmp_path / "same.pushdeck"), Workspace.open(pg_database)
    for ws in (lite, pg):
        add_app(ws, App("shop", apns_topic="com.example.shop"))
        add_devices(ws, _devices())
    yield lite, pg
    lite.close()
    pg.close()


def _tokens(ws: Workspace, text: str) -> set[str]:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 25, tzinfo=UTC)
    rule = compile_rule(parse_rule(text), now=now, dialect=ws.dialect)
    found = device_store.list_devices(ws, where=rule.where, params=rule.params, limit=1000)
    return {d.token for d in found}


def test_every_rule_selects_the_same_devices_on_both(both: tuple[Workspace, Workspace]) -> None:
    lite, pg = both
    differ = {}
    for text in RULES:
        a, b = _tokens(lite, text), _tokens(pg, text)
        if a != b:
            differ[text] = (sorted(a - b), sorted(b - a))
    assert differ == {}
    # and the rules are not trivially empty or full
    sizes = {len(_tokens(lite, text)) for text in RULES}
    assert len(sizes) > 5


def test_variants_and_hold_out_are_assigned_the_same_on_both(
    both: tuple[Workspace, Workspace],
) -> None:
    doc = {
        "name": "Same",
        "app": "shop",
        "audience": {"all": True},
        "message": {"title": "Hi"},
        "variants": [{"name": "A", "percent": 50}, {"name": "B", "percent": 50}],
        "control_percent": 20,
    }
    assigned = []
    for ws in both:
        campaign = create_campaign(ws, spec_from_dict(doc))
        added = materialize(ws, campaign, [ProviderKind.APNS])
        assert added == len(_devices())
        assert materialize(ws, campaign, [ProviderKind.APNS]) == 0  # once per campaign
        assigned.append(
            {
                r[0]: tuple(r)[1:]
                for r in ws.query(
                    "SELECT d.token, j.variant, j.state, j.reason FROM journal j"
                    " JOIN devices d ON d.id = j.device_id"
                )
            }
        )
    assert assigned[0] == assigned[1]
    states = {v[1] for v in assigned[0].values()}
    assert {"queued", "control"} <= states


_GROUPED = """
SELECT campaign_id, platform, variant, locale, state, count(*), count(delivered_at),
       count(opened_at), sum(actions), count(dismissed_at)
FROM journal GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
"""
_SUMMARY = """
SELECT campaign_id, platform, variant, locale, state, n, delivered, opened, actions, dismissed
FROM journal_summary WHERE n > 0 ORDER BY 1, 2, 3, 4, 5
"""


def test_the_triggers_keep_summary_engagement_and_tags_the_same_on_both(
    both: tuple[Workspace, Workspace],
) -> None:
    from pushdeck.core.common.model import SendStatus
    from pushdeck.core.engagement.events import record_events
    from tests.core.campaign_helpers import result, send_through_fake

    doc = {
        "name": "T",
        "app": "shop",
        "audience": {"all": True},
        "message": {"title": "Hi"},
        "variants": [{"name": "A", "percent": 50}, {"name": "B", "percent": 50}],
    }
    seen = []
    for ws in both:
        create_campaign(ws, spec_from_dict(doc))
        send_through_fake(ws, "T", t003=[result(SendStatus.REJECTED, reason="BadDeviceToken")])
        events = [
            {"event_id": f"e{i}-{kind}", "campaign": "T", "token": f"t{i:03d}", "kind": kind,
             "at": f"2026-11-2{i % 3}T10:00:00Z", **({"action_id": "buy"} if kind == "action"
                                                     else {})}
            for i in range(12) for kind in ("delivered", "opened", "action", "dismissed")
            if (i + len(kind)) % 3
        ]  # fmt: skip
        record_events(ws, events)
        with ws.transaction() as conn:
            conn.execute("UPDATE journal SET state = 'dead' WHERE device_id % 4 = 0")
            conn.execute("DELETE FROM journal WHERE device_id % 5 = 0")
        device_store.set_tags(ws, ws.scalar("SELECT min(id) FROM devices"), ["new", "vip"])
        summary = [tuple(r) for r in ws.query(_SUMMARY)]
        assert summary == [tuple(r) for r in ws.query(_GROUPED)]
        assert ws.scalar("SELECT sum(opened) FROM journal_summary") > 0
        engagement = ws.query(
            "SELECT d.token, j.delivered_at, j.opened_at, j.dismissed_at, j.actions"
            " FROM journal j JOIN devices d ON d.id = j.device_id ORDER BY d.token"
        )
        tags = ws.query(
            "SELECT d.token, t.tag FROM device_tags t JOIN devices d ON d.id = t.device_id"
            " ORDER BY 1, 2"
        )
        seen.append(
            (
                [s[1:] for s in summary],
                [tuple(r) for r in engagement],
                [tuple(r) for r in tags],
            )
        )
    assert seen[0] == seen[1]


def test_a_campaign_of_thousands_fills_the_same_journal_and_summary_on_both(
    both: tuple[Workspace, Workspace],
) -> None:
    """Queueing writes the journal in pages on PostgreSQL (5,000 devices a statement, the
    summary kept per statement) and in one statement on SQLite: more devices than a page,
    of every platform and exclusion reason, give the same rows and the same summary."""
    platforms = ["apns", "fcm", "webpush"]
    rows = [
        {
            "token": f"many-{i:05d}",
            "provider": platforms[i % 3],
            "locale": ["en", "pt-BR", "fr", ""][i % 4],
            "opt_in": "denied" if i % 17 == 0 else "authorized",
            **({"status": "unregistered"} if i % 23 == 0 else {}),
        }
        for i in range(6_200)
    ]
    doc = {
        "name": "Many",
        "app": "shop",
        "audience": {"all": True},
        "message": {"title": "Hi"},
        "variants": [{"name": "A", "percent": 30}, {"name": "B", "percent": 70}],
        "control_percent": 10,
    }
    seen = []
    for ws in both:
        add_devices(ws, rows)
        campaign = create_campaign(ws, spec_from_dict(doc))
        # webpush has no credential here: those devices are excluded as 'no_credential'
        added = materialize(ws, campaign, [ProviderKind.APNS, ProviderKind.FCM])
        assert added == len(rows) + len(_devices())
        assert materialize(ws, campaign, [ProviderKind.APNS, ProviderKind.FCM]) == 0
        summary = [tuple(r) for r in ws.query(_SUMMARY)]
        assert summary == [tuple(r) for r in ws.query(_GROUPED)]
        assert sum(r[5] for r in summary) == added
        journal = [
            tuple(r)
            for r in ws.query(
                "SELECT d.token, j.variant, j.state, j.reason, j.platform, j.locale"
                " FROM journal j JOIN devices d ON d.id = j.device_id ORDER BY d.token"
            )
        ]
        seen.append(([s[1:] for s in summary], journal))
        with ws.transaction() as conn:  # the delete trigger, a page of rows at once
            conn.execute(
                "DELETE FROM journal WHERE campaign_id = ? AND device_id % 2 = 0", (campaign.id,)
            )
        assert [tuple(r) for r in ws.query(_SUMMARY)] == [tuple(r) for r in ws.query(_GROUPED)]
    assert seen[0] == seen[1]
    states = {(row[2], row[3]) for row in seen[0][1]}
    assert {("queued", ""), ("control", ""), ("excluded", "opted_out"),
            ("excluded", "unregistered"), ("excluded", "no_credential")} <= states  # fmt: skip


def test_the_audience_table_searches_and_sorts_the_same_on_both(
    both: tuple[Workspace, Workspace],
) -> None:
    from pushdeck.core.devices.query import DeviceQuery, count, field_values, page

    searches = ["", "tag:vip", "attr:v", "attr:w", "attr:v=18", "attr:v=1", "attr:v=abc",
                "attr:v=ABC", "T00", "t01 tag:vip", "nothing-like-this"]  # fmt: skip
    lite, pg = both
    for search in searches:
        for sort in ("id", "token", "locale", "timezone", "last_seen"):
            for descending in (False, True):
                query = DeviceQuery(search=search, sort=sort, descending=descending)
                rows = [[d.token for d in page(ws, query, 3, 12)] for ws in both]
                assert rows[0] == rows[1], (search, sort, descending)
                assert count(lite, query) == count(pg, query)
    assert count(lite, DeviceQuery(search="attr:v=18")) > 0
    assert field_values(lite) == field_values(pg)


#: Locales and time zones around the edges of PostgreSQL's prefix range (``^=`` compiles
#: to ``folded >= p AND folded < p.`` there, and to LIKE on SQLite).
PREFIX_LOCALES = [
    "pt", "PT", "Pt-br", "pt-", "pt-BR", "ptx", "pt,BR", "pt.BR", "pt_BR", "p", "pu", "pT-x",
    "P_-x", "p%-x", "p\\-x", "ét-x", "ÉT-x", "pt\U0010ffff", "zz", "",
]  # fmt: skip
PREFIX_ZONES = [
    "Europe/Paris", "europe/x", "EUROPE", "Europe", "Europe0", "Europe.", "Europf",
    "America/North_Dakota/Center", "America/NorthXDakota/Center", "Ame", "\U0010ffff\U0010ffffx",
    "\U0010ffff", "a\U0010ffff", "b", "",
]  # fmt: skip
PREFIX_RULES = [
    *(f'locale ^= "{p}"' for p in ("pt", "PT", "pT", "p", "pt-", "pt_", "P_", "p%", "p\\\\",
                                   "ét", "ÉT", "pt\U0010ffff", "z")),
    *(f'timezone ^= "{p}"' for p in ("Europe/", "europe", "EUROPE/", "America/North_Dakota/",
                                     "\U0010ffff", "a\U0010ffff", "\U0010ffff\U0010ffff", "Am")),
    "platform = ios and locale ^= pt and tag has vip",
]  # fmt: skip


def test_starts_with_selects_the_same_devices_on_both(tmp_path: Path, pg_database: str) -> None:
    rows = [
        {"token": f"l{i:02d}", "locale": locale, "tags": ["vip"] if i % 2 else []}
        for i, locale in enumerate(PREFIX_LOCALES)
    ] + [{"token": f"z{i:02d}", "timezone": zone} for i, zone in enumerate(PREFIX_ZONES)]
    lite, pg = Workspace.open(tmp_path / "prefix.pushdeck"), Workspace.open(pg_database)
    try:
        for ws in (lite, pg):
            add_app(ws, App("shop", apns_topic="com.example.shop"))
            add_devices(ws, rows)
        differ = {}
        for text in PREFIX_RULES:
            a, b = _tokens(lite, text), _tokens(pg, text)
            if a != b:
                differ[text] = (sorted(a - b), sorted(b - a))
        assert differ == {}
        # What SQLite's LIKE gives, spelt out: ASCII letters in any case, nothing else.
        assert _tokens(pg, "locale ^= pt") == {"l00", "l02", "l03", "l04", "l11"}
        assert _tokens(pg, 'locale ^= "ét"') == {"l15"}
        assert _tokens(pg, 'timezone ^= "Europe/"') == {"z00", "z01"}
        assert _tokens(pg, 'timezone ^= "\U0010ffff"') == {"z10", "z11"}
    finally:
        lite.close()
        pg.close()
