"""Segment rules: text syntax, JSON form, SQL compile, counts against hand-computed sets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from pushdeck.core.common.errors import SegmentError
from pushdeck.core.demo.workspace import demo_devices
from pushdeck.core.store import Workspace
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.segment_rules import compile_rule, parse_rule, rule_to_text
from pushdeck.core.store.segments import Segment, count_rule, get_segment, save_segment

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def records(ws: Workspace) -> list[dict[str, object]]:
    rows = demo_devices(800, seed=3, now=NOW)
    for row in rows:
        row["app_id"] = 1
    device_store.upsert_devices(ws, rows)
    return rows


def _count(ws: Workspace, text: str) -> int:
    rule = compile_rule(parse_rule(text), now=NOW, dialect=ws.dialect)
    return device_store.count_devices(ws, where=rule.where, params=rule.params)


def _expected(rows: list[dict[str, object]], keep: object) -> int:
    def live(r: dict[str, object]) -> bool:
        return r["opt_in"] != "denied"

    return sum(1 for r in rows if live(r) and keep(r))  # type: ignore[operator]


def test_counts_equal_hand_computed(ws: Workspace, records: list[dict[str, object]]) -> None:
    tags = lambda r: json.loads(r["tags"])  # noqa: E731
    attrs = lambda r: json.loads(r["attributes"])  # noqa: E731
    cases = {
        "platform = ios": lambda r: r["platform"] == "ios",
        "locale ^= pt": lambda r: str(r["locale"]).startswith("pt-"),
        "platform = ios and locale ^= pt and tag has vip": lambda r: (
            r["platform"] == "ios" and str(r["locale"]).startswith("pt") and "vip" in tags(r)
        ),
        "tag lacks vip or platform = web": lambda r: "vip" not in tags(r) or r["platform"] == "web",
        "not (platform = ios or platform = android)": lambda r: r["platform"] == "web",
        "attr.purchases >= 10": lambda r: attrs(r)["purchases"] >= 10,
        'attr.first_name = "Ana"': lambda r: attrs(r)["first_name"] == "Ana",
        "attr.first_name contains na": lambda r: "na" in attrs(r)["first_name"],
        "attr.missing exists": lambda r: False,
        "timezone ^= Europe/": lambda r: str(r["timezone"]).startswith("Europe/"),
        "platform in (ios, web)": lambda r: r["platform"] in ("ios", "web"),
        "last_seen within 7d": lambda r: (
            r["last_seen"] >= (NOW - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        ),
        "test = true": lambda r: r["test"] == 1,
    }
    for text, keep in cases.items():
        assert _count(ws, text) == _expected(records, keep), text


def test_opted_out_and_dead_excluded_unless_asked(
    ws: Workspace, records: list[dict[str, object]]
) -> None:
    denied = sum(1 for r in records if r["opt_in"] == "denied")
    assert denied > 0
    assert _count(ws, "opt_in = denied") == denied
    from pushdeck.core.common.model import DeviceStatus

    first_three = [
        ws.scalar("SELECT id FROM devices WHERE token = ?", (r["token"],)) for r in records[:3]
    ]
    device_store.mark_status(ws, first_three, DeviceStatus.UNREGISTERED, "Unregistered")
    live_ios = _count(ws, "platform = ios")
    assert _count(ws, "status = unregistered") == 3 - sum(
        1 for r in records[:3] if r["opt_in"] == "denied"
    )
    assert live_ios == _expected(records[3:], lambda r: r["platform"] == "ios")


def test_text_round_trips() -> None:
    for text in [
        "platform = ios and (locale ^= pt or tag has vip)",
        'attr.name = "Ann Lee" or not tag has churned',
        "platform in (ios, web)",
        "attr.token exists",
    ]:
        assert rule_to_text(parse_rule(text)) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("platfrm = ios", "unknown field 'platfrm'"),
        ("platform = mac", "not one of ios, android, web"),
        ("tag = vip", "does not support '='"),
        ("last_seen within soon", "duration like 30d"),
        ("platform = ios and", "ends too early"),
        ("(platform = ios", "ends too early"),
        ("timezone = Mars/Base", "IANA"),
        ("test = maybe", "true or false"),
    ],
)
def test_bad_rules_say_what_and_why(text: str, message: str) -> None:
    with pytest.raises(SegmentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compile_rule(parse_rule(text))


def test_user_text_never_becomes_sql(ws: Workspace, records: list[dict[str, object]]) -> None:
    hostile = "x'; DROP TABLE devices; --"
    rule = {"field": "attr.first_name", "op": "=", "value": hostile}
    compiled = compile_rule(rule, dialect=ws.dialect)
    assert hostile not in compiled.where and hostile in compiled.params
    assert count_rule(ws, rule) == 0
    with pytest.raises(SegmentError, match="attribute name"):
        compile_rule({"field": 'attr.a") OR 1=1 --', "op": "exists"})
    assert device_store.count_devices(ws) == len(records)


def test_saved_segment_round_trip(ws: Workspace, records: list[dict[str, object]]) -> None:
    save_segment(ws, Segment("pt", parse_rule("locale ^= pt")))
    assert get_segment(ws, "pt").text == "locale ^= pt"
    assert count_rule(ws, get_segment(ws, "pt").rule, app="shop") == _count(ws, "locale ^= pt")
    assert count_rule(ws, get_segment(ws, "pt").rule, app="nope") == 0
