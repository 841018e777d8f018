"""Segments that target exactly who they say (issue 12).

Literal text matching, every parsed rule compiling or failing with a SegmentError that
names the part (hostile and random rules, counted against a real SQLite workspace),
and saved rules that no longer compile listed as broken instead of breaking the
workspace — in process and through the ``pushdeck`` command in another process.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pushdeck.core.campaigns.dispatch import send_campaign_async
from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.errors import SegmentError
from pushdeck.core.common.model import App, ProviderKind
from pushdeck.core.devices.query import DeviceQuery, count
from pushdeck.core.store import Workspace
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.apps import add_app
from pushdeck.core.store.segment_rules import (
    FIELD_OPS,
    MAX_CONDITIONS,
    MAX_DEPTH,
    compile_rule,
    parse_rule,
)
from pushdeck.core.store.segments import (
    Segment,
    count_rule,
    delete_segment,
    list_segments,
    save_segment,
)
from tests.core.campaign_helpers import FakeProvider, add_devices

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TEXT_OPS = {"starts_with": "^="}


def tokens(ws: Workspace, text_or_rule: str | dict[str, Any]) -> set[str]:
    rule = parse_rule(text_or_rule) if isinstance(text_or_rule, str) else text_or_rule
    compiled = compile_rule(rule, now=NOW, dialect=ws.dialect)
    devices = device_store.list_devices(ws, where=compiled.where, params=compiled.params)
    return {d.token for d in devices}


# ------------------------------------------------------------------ literal matching


@pytest.fixture
def coded(ws: Workspace) -> Workspace:
    codes: dict[str, Any] = {
        "underscore": "SPRING_20",
        "any-char": "SPRINGX20",
        "lower": "spring_20",
        "percent": "SPRING%20",
        "backslash": "SPRING\\20",
        "number": 2020,
        "list": ["WINTER", "SPRING_20"],
        "list-x": ["SPRINGX20"],
        "list-accent": ["café"],
        "accent": "CAFÉ",
        "object": {"SPRING_20": True},
    }
    rows = [{"token": name, "attributes": {"code": code}} for name, code in codes.items()]
    add_devices(ws, [*rows, {"token": "none"}])
    return ws


def test_contains_matches_underscore_and_percent_literally(coded: Workspace) -> None:
    assert tokens(coded, 'attr.code contains "SPRING_20"') == {"underscore", "lower", "list"}
    assert tokens(coded, 'attr.code contains "G%2"') == {"percent"}
    assert tokens(coded, 'attr.code contains "G\\\\2"') == {"backslash"}
    assert tokens(coded, 'attr.code contains "_"') == {"underscore", "lower", "list"}
    assert tokens(coded, 'attr.code contains "02"') == {"number"}


def test_case_semantics_are_the_documented_ones(coded: Workspace) -> None:
    # contains ignores the case of ASCII letters (docs/segments.md); '=' is exact.
    assert tokens(coded, 'attr.code contains "spring_20"') == {"underscore", "lower", "list"}
    assert tokens(coded, 'attr.code = "spring_20"') == {"lower"}
    # Letters beyond ASCII are matched exactly (SQLite's LIKE folds ASCII only).
    assert tokens(coded, 'attr.code contains "CAFÉ"') == {"accent"}
    assert tokens(coded, 'attr.code contains "café"') == {"list-accent"}


def test_list_attributes_match_an_item_never_json_punctuation(coded: Workspace) -> None:
    assert tokens(coded, 'attr.code contains "WINTER"') == {"list"}
    assert tokens(coded, 'attr.code contains "\\",\\""') == set()  # '","' between items
    assert tokens(coded, 'attr.code contains "["') == set()
    # Objects never "contain" text; a missing attribute matches neither way.
    everyone = {t for t in tokens(coded, "attr.code exists")}
    assert "object" in everyone and "none" not in everyone
    contains = tokens(coded, 'attr.code contains "SPRING"')
    lacks = tokens(coded, 'not attr.code contains "SPRING"')
    assert contains.isdisjoint(lacks)
    assert "none" not in contains | lacks and "object" in lacks


def test_starts_with_matches_literally(ws: Workspace) -> None:
    add_devices(
        ws,
        [
            {"token": "nd", "timezone": "America/North_Dakota/Center", "locale": "pt-BR"},
            {"token": "ndx", "timezone": "America/NorthXDakota/Center", "locale": "pt%-BR"},
            {"token": "pt", "locale": "pt"},
        ],
    )
    assert tokens(ws, "timezone ^= America/North_Dakota/") == {"nd"}
    assert tokens(ws, "locale ^= pt") == {"nd", "pt"}
    assert tokens(ws, 'locale ^= "pt%"') == {"ndx"}


def test_tags_match_exactly(ws: Workspace) -> None:
    add_devices(ws, [{"token": "a", "tags": ["vip_1"]}, {"token": "b", "tags": ["vipx1"]}])
    assert tokens(ws, "tag has vip_1") == {"a"}
    assert tokens(ws, "tag lacks vip_1") == {"b"}


# ------------------------------------------------------------------ compile or SegmentError


@pytest.mark.parametrize(
    ("rule", "part"),
    [
        ("attr.n = 99999999999999999999", "attr.n = 99999999999999999999"),
        ("attr.n > -9223372036854775809", "numbers must be between"),
        ("attr.n = " + "9" * 5000, "is too large"),
        ("attr.n < 1" + "0" * 400 + ".5", "is too large"),
        ("last_seen within 999999999d", "last_seen within 999999999d"),
        ("created_at within 99999999999999999999999w", "created_at within"),
        ("last_seen within " + "9" * 5000 + "d", "last_seen"),
        ("last_seen before 0001-01-01T00:00:00+14:00", "outside the years 1 to 9999"),
        ("last_seen before -0001-01-01", "years 1 to 9999"),
        (" or ".join(["platform = ios"] * 3000), f"more than {MAX_CONDITIONS} conditions"),
        ("not " * 3000 + "platform = ios", f"more than {MAX_DEPTH} levels"),
        ("(" * 3000 + "platform = ios" + ")" * 3000, f"more than {MAX_DEPTH} levels"),
    ],
)
def test_hostile_text_rules_fail_with_a_segment_error_naming_the_part(
    ws: Workspace, rule: str, part: str
) -> None:
    with pytest.raises(SegmentError) as caught:
        compile_rule(parse_rule(rule), now=NOW)
    assert part in caught.value.message
    assert len(caught.value.message) < 400


def nested(depth: int, key: str = "not") -> dict[str, Any]:
    rule: dict[str, Any] = {"field": "platform", "op": "=", "value": "ios"}
    for _ in range(depth):
        rule = {key: rule} if key == "not" else {key: [rule]}
    return rule


@pytest.mark.parametrize(
    ("rule", "part"),
    [
        (nested(10_000), "levels deep"),
        (nested(5_000, "all"), "levels deep"),
        ({"any": [{"field": "tag", "op": "has", "value": f"t{i}"} for i in range(5000)]},
         "conditions"),
        ({"field": "platform", "op": "in", "value": ["ios"] * 6000}, "values"),
        ({"field": "attr.n", "op": ">=", "value": 2**70}, "numbers must be between"),
        ({"field": "attr.n", "op": "=", "value": float("nan")}, "finite number"),
        ({"field": "attr.n", "op": "contains", "value": float("inf")}, "text value"),
        ({"field": "last_seen", "op": "within", "value": ["30d"]}, "text value"),
    ],
)  # fmt: skip
def test_hostile_json_rules_fail_with_a_segment_error(
    ws: Workspace, rule: dict[str, Any], part: str
) -> None:
    with pytest.raises(SegmentError, match=part):
        count_rule(ws, rule)
    with pytest.raises(SegmentError):
        save_segment(ws, Segment("hostile", rule))
    assert list_segments(ws) == []


def test_rules_at_the_limits_compile_and_count(ws: Workspace) -> None:
    add_devices(ws, [{"token": "old", "last_seen": "0999-06-01T00:00:00Z"}, {"token": "new"}])
    ws.conn.execute("UPDATE devices SET last_seen = '2026-11-20T00:00:00Z' WHERE token = 'new'")
    assert tokens(ws, "last_seen before 0999-12-31") == {"old"}  # zero-padded years
    assert tokens(ws, "last_seen within 700000d") == {"old", "new"}
    assert tokens(ws, "attr.n <= 9223372036854775807 or platform = ios") == {"old", "new"}
    widest = " or ".join(f"tag has t{i}" for i in range(MAX_CONDITIONS - 1)) + " or tag lacks x"
    assert tokens(ws, widest) == {"old", "new"}
    deepest = "not " * MAX_DEPTH + "platform = ios"
    assert tokens(ws, deepest) == {"old", "new"}  # an even number of 'not's
    rule = nested(MAX_DEPTH, "all")
    save_segment(ws, Segment("deep", rule))
    create_campaign(
        ws, spec_from_dict({"name": "C", "app": "shop", "audience": {"segment": "deep"},
                            "message": {"title": "t", "body": "b"}}),
    )  # fmt: skip


def test_random_rules_compile_and_count_or_fail_with_a_segment_error(ws: Workspace) -> None:
    """Rules assembled from every field, operator and awkward value, counted for real."""
    add_devices(ws, [{"token": f"t{i}", "attributes": {"n": i, "s": f"v_{i}"}} for i in range(5)])
    rng = random.Random(12)
    fields = [
        "platform",
        "provider",
        "app",
        "locale",
        "timezone",
        "tag",
        "test",
        "last_seen",
        "created_at",
        "opt_in",
        "status",
        "environment",
        "attr.n",
        "attr.s",
        "attr.a-b",
    ]
    ops = [
        "=",
        "!=",
        "^=",
        "<",
        ">=",
        "contains",
        "has",
        "lacks",
        "within",
        "before",
        "exists",
        "not_exists",
        "in",
    ]
    values = [
        "ios",
        "30d",
        "0d",
        "999999999d",
        "2026-01-31",
        "0001-01-01",
        "9999-12-31T23:59:59",
        "-5",
        "1.5",
        "99999999999999999999",
        "1e5",
        '"%_\\\\"',
        '"a b"',
        "Europe/",
        "true",
        "''",
        "(ios, web)",
        "[1, 2]",
        "0.000000000001",
    ]
    allowed = {f: [TEXT_OPS.get(o, o) for o in FIELD_OPS[f.split(".")[0]]] for f in fields}

    def condition() -> str:
        field = rng.choice(fields)
        op = rng.choice(allowed[field] if rng.random() < 0.7 else ops)
        return f"{field} {op} {rng.choice(values)}"

    outcomes = {"counted": 0, "refused": 0}
    for _ in range(400):
        parts = [condition() for _ in range(rng.randint(1, 3))]
        text = rng.choice([" and ", " or ", " and not "]).join(parts)
        try:
            rule = parse_rule(text)
            n = count_rule(ws, rule)
        except SegmentError as exc:
            assert exc.message, text
            outcomes["refused"] += 1
        else:
            assert 0 <= n <= 5, text
            outcomes["counted"] += 1
    assert outcomes["counted"] > 20 and outcomes["refused"] > 20  # both paths exercised


# ------------------------------------------------------------------ saved rules gone bad

BROKEN = {
    "bad-json": '{"field": "platform", "op": "=", ',
    "old-field": json.dumps({"field": "os", "op": "=", "value": "ios"}),
    "too-deep": json.dumps(nested(200)),
    "not-a-rule": "[1, 2]",
    "gone-zone": json.dumps({"field": "timezone", "op": "=", "value": "Mars/Base"}),
}


def break_segments(ws: Workspace) -> None:
    """Rows as an older/newer Pushdeck or a hand edit could have left them."""
    with ws.transaction() as conn:
        for name, rule in BROKEN.items():
            conn.execute(
                "INSERT INTO segments (name, rule, description, created_at, updated_at)"
                " VALUES (?, ?, '', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
                (name, rule),
            )


def test_broken_saved_rules_are_listed_as_broken_and_only_fail_when_used(ws: Workspace) -> None:
    add_devices(ws, [{"token": "i", "platform": "ios"}, {"token": "w", "provider": "webpush"}])
    save_segment(ws, Segment("iOS", parse_rule("platform = ios")))
    break_segments(ws)
    listed = {s.name: s for s in list_segments(ws)}
    assert set(listed) == {"iOS", *BROKEN}
    assert listed["iOS"].problem == "" and count_rule(ws, listed["iOS"].rule) == 1
    assert "not valid JSON" in listed["bad-json"].problem
    assert "unknown field 'os'" in listed["old-field"].problem
    assert "levels deep" in listed["too-deep"].problem
    assert "not an object" in listed["not-a-rule"].problem
    assert "IANA" in listed["gone-zone"].problem
    for segment in listed.values():
        assert isinstance(segment.text, str)  # displaying never raises
    with pytest.raises(SegmentError, match=r"Segment 'old-field' cannot be used: .*'os'"):
        count(ws, DeviceQuery(segment="old-field"))
    assert count(ws, DeviceQuery(segment="iOS")) == 1
    delete_segment(ws, "bad-json")  # a broken segment can still be removed
    assert "bad-json" not in {s.name for s in list_segments(ws)}


async def test_a_campaign_on_a_broken_segment_says_which_and_why(ws: Workspace) -> None:
    add_devices(ws, [{"token": "i"}])
    save_segment(ws, Segment("zone", parse_rule("timezone = Europe/Paris")))
    doc = {"name": "C", "app": "shop", "audience": {"segment": "zone"},
           "message": {"title": "t", "body": "b"}}  # fmt: skip
    create_campaign(ws, spec_from_dict(doc))
    ws.conn.execute("UPDATE segments SET rule = ? WHERE name = 'zone'", (BROKEN["gone-zone"],))
    fake = FakeProvider()
    with pytest.raises(SegmentError, match=r"Segment 'zone' cannot be used: .*Mars/Base"):
        await send_campaign_async(ws, "C", providers={ProviderKind.APNS: fake})
    assert not fake.received


def _pushdeck(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pushdeck", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def broken_workspace(tmp_path: Path) -> Path:
    path = tmp_path / "w.pushdeck"
    with Workspace.open(path) as ws:
        add_app(ws, App("shop", apns_topic="com.example.shop"))
        add_devices(ws, [{"token": "a", "attributes": {"code": "SPRING_20"}},
                         {"token": "b", "attributes": {"code": "SPRINGX20"}}])  # fmt: skip
        save_segment(ws, Segment("spring", parse_rule('attr.code contains "SPRING_20"')))
        break_segments(ws)
    return path


def test_cli_lists_broken_segments_and_refuses_them_by_name(broken_workspace: Path) -> None:
    ws = str(broken_workspace)
    listed = _pushdeck("--workspace", ws, "segments", "list")
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()[1:] if line.strip()}
    assert set(lines) >= {"spring", *BROKEN}
    assert lines["spring"].split()[1] == "1"  # SPRINGX20 is not SPRING_20
    assert all(lines[name].split()[1] == "broken" for name in BROKEN)
    assert "segment 'old-field' cannot be used: rule: unknown field 'os'" in listed.stderr
    as_json = json.loads(_pushdeck("--workspace", ws, "segments", "list", "--json").stdout)
    problems = {s["name"]: (s["count"], s["problem"]) for s in as_json}
    assert problems["spring"] == (1, "")
    assert problems["too-deep"][0] is None and "levels deep" in problems["too-deep"][1]
    for verb in (["segments", "count", "old-field"], ["segments", "show", "gone-zone"],
                 ["devices", "count", "--segment", "too-deep"]):  # fmt: skip
        used = _pushdeck("--workspace", ws, *verb)
        assert used.returncode == 1
        assert "Traceback" not in used.stderr
        assert f"Segment '{verb[-1]}' cannot be used:" in used.stderr
    assert _pushdeck("--workspace", ws, "segments", "remove", "bad-json").returncode == 0


def test_cli_refuses_hostile_rules_in_one_message(broken_workspace: Path) -> None:
    ws = str(broken_workspace)
    for args in (
        ["--rule", "last_seen within 999999999d"],
        ["--rule", " or ".join(["platform = ios"] * 2000)],
        ["--rule", "not " * 5000 + "platform = ios"],
        ["--rule", "attr.n > 123456789012345678901234567890"],
        ["--json-rule", "[" * 50_000 + "]" * 50_000],
        ["--json-rule", '{"field": '],
    ):
        added = _pushdeck("--workspace", ws, "segments", "add", "h", *args)
        assert added.returncode == 1, args[1][:40]
        assert "Traceback" not in added.stderr and "RecursionError" not in added.stderr
        assert len(added.stderr) < 600
    with sqlite3.connect(broken_workspace) as conn:
        assert conn.execute("SELECT count(*) FROM segments WHERE name = 'h'").fetchone() == (0,)
