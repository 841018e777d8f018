"""Engagement events: import CSV/NDJSON idempotently, reasons per row and field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pushdeck.core.campaigns.dispatch import send_campaign_async
from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.simulated_engagement import simulate_campaign_engagement
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.errors import ConfigError
from pushdeck.core.common.model import ProviderKind
from pushdeck.core.engagement.events import import_events_file, record_events
from pushdeck.core.providers.base import create_provider
from pushdeck.core.providers.credentials import SandboxCredential
from pushdeck.core.store import Workspace
from tests.core.campaign_helpers import FakeProvider, add_devices

CAMPAIGN = {
    "name": "C1",
    "app": "shop",
    "audience": {"all": True},
    "message": {"title": "Hi", "actions": [{"id": "buy", "title": "Buy"}]},
}


@pytest.fixture
async def sent(ws: Workspace) -> Workspace:
    add_devices(ws, [{"token": f"t{i}"} for i in range(5)])
    create_campaign(ws, spec_from_dict(CAMPAIGN))
    await send_campaign_async(ws, "C1", providers={ProviderKind.APNS: FakeProvider()})
    return ws


def event(i: int, **extra: object) -> dict[str, object]:
    return {
        "event_id": f"e{i}",
        "kind": "opened",
        "campaign": "C1",
        "device": f"t{i}",
        "at": "2026-05-01T09:00:00Z",
        **extra,
    }


async def test_ndjson_import_is_idempotent(sent: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(json.dumps(event(i)) for i in range(3)) + "\n")
    first = import_events_file(sent, path)
    assert (first.recorded, first.duplicates, first.rejected) == (3, 0, 0)
    again = import_events_file(sent, path)
    assert (again.recorded, again.duplicates) == (0, 3)
    assert sent.scalar("SELECT count(*) FROM events") == 3


async def test_csv_import_reports_rows_and_fields(sent: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,kind,campaign,device_token,at,action_id\n"
        "a,opened,C1,t1,2026-05-01T09:00:00Z,\n"
        "b,clicked,C1,t1,2026-05-01T09:00:00Z,\n"
        "c,opened,Nope,t1,2026-05-01T09:00:00Z,\n"
        "d,opened,C1,zz,2026-05-01T09:00:00Z,\n"
        "e,opened,C1,t1,yesterday,\n"
        "f,action,C1,t2,2026-05-01T09:00:00Z,\n"
        ",opened,C1,t2,2026-05-01T09:00:00Z,\n"  # no id: derived from the fields
        "g,action,C1,t2,2026-05-01T09:00:00+02:00,buy\n"
    )
    report = import_events_file(sent, path)
    assert report.recorded == 3 and report.rejected == 5
    assert [(e.row, e.field) for e in report.errors] == [
        (2, "kind"),
        (3, "campaign"),
        (4, "device"),
        (5, "at"),
        (6, "action_id"),
    ]
    assert "'clicked' is not one of" in report.errors[0].reason
    row = sent.query("SELECT at, action_id FROM events WHERE event_id = 'g'")[0]
    assert (row["at"], row["action_id"]) == ("2026-05-01T07:00:00Z", "buy")


async def test_variant_comes_from_the_journal_when_absent(sent: Workspace) -> None:
    sent.conn.execute("UPDATE journal SET variant = 'B' WHERE device_id = 2")
    record_events(sent, [event(1), event(2, variant="A", event_id="x")])
    rows = dict(sent.query("SELECT event_id, variant FROM events").__iter__())
    assert rows == {"e1": "B", "x": "A"}


async def test_bad_json_line_is_reported(sent: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text(json.dumps(event(1)) + "\n{not json\n")
    report = import_events_file(sent, path)
    assert report.recorded == 1 and report.errors[0].row == 2
    assert "invalid JSON" in report.errors[0].reason


def test_unknown_file_type(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "events.xml"
    path.write_text("<x/>")
    with pytest.raises(ConfigError, match=r"\.csv"):
        import_events_file(ws, path)


async def test_sandbox_simulation_records_deterministic_events(ws: Workspace) -> None:
    add_devices(
        ws, [{"token": f"s{i}", "provider": "sandbox", "platform": "ios"} for i in range(300)]
    )
    create_campaign(ws, spec_from_dict(CAMPAIGN))
    # engagement=False: this test is about the explicit simulation, not the one the
    # sandbox records on every send (tests/core/test_sandbox_campaign_engagement.py).
    credential = SandboxCredential(latency_ms=0, failure_rate=0, dead_rate=0)
    sandbox = create_provider(credential, engagement=False)
    await send_campaign_async(ws, "C1", providers={ProviderKind.SANDBOX: sandbox})
    later = datetime.now(UTC) + timedelta(days=3)
    first = simulate_campaign_engagement(ws, "C1", open_rate=0.5, now=later, seed=1)
    assert first.recorded > 300  # deliveries plus opens
    opened = ws.scalar("SELECT count(*) FROM events WHERE kind IN ('opened', 'action')")
    assert 100 < opened < 200
    again = simulate_campaign_engagement(ws, "C1", open_rate=0.5, now=later, seed=1)
    assert again.recorded == 0 and again.duplicates == first.recorded


async def test_missing_event_id_is_derived_and_idempotent(sent: Workspace) -> None:
    anonymous = {k: v for k, v in event(1).items() if k != "event_id"}
    first = record_events(sent, [anonymous])
    again = record_events(sent, [dict(anonymous)])
    assert (first.recorded, again.duplicates) == (1, 1)
    later = record_events(sent, [{**anonymous, "at": "2026-05-01T10:00:00Z"}])
    assert later.recorded == 1


async def test_a_hostile_file_costs_only_its_bad_rows(sent: Workspace, tmp_path: Path) -> None:
    ndjson = tmp_path / "events.ndjson"
    ndjson.write_bytes(
        b"\n".join(
            [
                json.dumps(event(1)).encode(),
                b"[" * 100_000 + b"]" * 100_000,  # nested too deep for any parser's stack
                b"[" + b"9" * 5000 + b"]",  # a number Python refuses to parse
                json.dumps(event(2)).replace("C1", "C\\u00b9").encode(),  # "C¹": no such
                json.dumps(event(3)).encode().replace(b"t3", b"t\xff3"),  # not UTF-8
                json.dumps(event(4)).encode(),
            ]
        )
    )
    report = import_events_file(sent, ndjson)
    assert report.recorded == 2
    assert [(e.row, e.field) for e in report.errors] == [
        (2, "(line)"),
        (3, "(line)"),
        (4, "campaign"),
        (5, "device"),
    ]
    assert "nested too deeply" in report.errors[0].reason

    table = tmp_path / "events.csv"
    table.write_text(
        "event_id,kind,campaign,device,at\n"
        f"c1,opened,C1,t1,{'x' * 200_000}\n"  # a field over csv's limit
        "c2,opened,C1,t2,2026-05-01T09:00:00Z\n"
    )
    report = import_events_file(sent, table)
    assert report.recorded == 1 and [(e.row, e.field) for e in report.errors] == [(1, "(line)")]


def test_a_utf16_file_is_refused_with_what_to_do(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("event_id,kind\n", encoding="utf-16")
    with pytest.raises(ConfigError, match="UTF-16"):
        import_events_file(ws, path)
