"""Conversions: the ``converted`` event checked field by field, attributed to a campaign
as direct (named) or influenced (last opened within the window) as docs/reports.md says,
with value per currency, the hold-out comparison and the A/B verdict on conversions."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pushdeck.core.campaigns.dispatch import send_campaign
from pushdeck.core.campaigns.hygiene import update_app_rules
from pushdeck.core.campaigns.hygiene_rules import parse_window
from pushdeck.core.campaigns.library import create_campaign, get_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.model import App, ProviderKind
from pushdeck.core.engagement.events import import_events_file, record_events
from pushdeck.core.reports.dashboard import (
    ReportCache,
    dashboard_data,
    render_html,
    write_aggregates_csv,
)
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from tests.core.campaign_helpers import FakeProvider, add_devices

SENT = "2026-11-02T09:00:00Z"  # when the campaigns of these tests went out


def send(ws: Workspace, name: str, audience: dict[str, Any], **fields: Any) -> None:
    doc = {"name": name, "app": "shop", "audience": audience, "message": {"title": name},
           **fields}  # fmt: skip
    create_campaign(ws, spec_from_dict(doc))
    send_campaign(ws, name, providers={ProviderKind.APNS: FakeProvider()})
    backdate(ws, name, SENT)


def backdate(ws: Workspace, name: str, at: str) -> None:
    """As if the campaign had been sent at ``at`` (the tests' events are in the past)."""
    campaign_id = get_campaign(ws, name).id
    with ws.transaction() as conn:
        conn.execute("UPDATE campaigns SET started_at = ?, finished_at = ? WHERE id = ?",
                     (at, at, campaign_id))  # fmt: skip
        conn.execute("UPDATE journal SET queued_at = ?, sent_at = coalesce(sent_at, NULL)"
                     " WHERE campaign_id = ?", (at, campaign_id))  # fmt: skip
        conn.execute("UPDATE journal SET sent_at = ? WHERE campaign_id = ? AND sent_at IS NOT NULL",
                     (at, campaign_id))  # fmt: skip


def opened(campaign: str, device: str, at: str) -> dict[str, str]:
    return {"kind": "opened", "campaign": campaign, "device": device, "at": at}


def converted(device: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"kind": "converted", "device": device, "at": at, **fields}


def record(ws: Workspace, events: list[dict[str, Any]]) -> None:
    report = record_events(ws, events)
    assert report.rejected == 0, report.errors


@pytest.fixture
def shop(ws: Workspace) -> Workspace:
    add_devices(ws, [{"token": f"d{i}"} for i in range(1, 8)])
    send(ws, "A", {"all": True})
    send(ws, "B", {"tokens": ["d2", "d5"]})
    return ws


def conversions(ws: Workspace, name: str) -> Any:
    data = dashboard_data(ws, name)
    assert data.conversions is not None
    return data.conversions


# --------------------------------------------------------------------------- the event


def test_bad_conversions_are_rejected_by_field_and_good_ones_kept(shop: Workspace) -> None:
    add_app(shop, App("blog"))
    add_devices(shop, [{"token": "d1"}], app="blog")  # the same token in another app
    events = [
        converted("d3", "2026-11-02T10:00:00Z", value=19.99, currency="eur"),  # good
        converted("d3", "2026-11-02T10:00:00Z", value=5, currency="EURO"),
        converted("d3", "2026-11-02T10:00:00Z", value=5, currency="HRK"),
        converted("d3", "2026-11-02T10:00:00Z", value=5),
        converted("d3", "2026-11-02T10:00:00Z", value=-5, currency="EUR"),
        converted("d3", "2026-11-02T10:00:00Z", value="19,99", currency="EUR"),
        converted("d3", "2026-11-02T10:00:00Z", value=0.0000001, currency="EUR"),
        converted("d3", "2026-11-02T10:00:00Z", value="NaN", currency="EUR"),
        converted("d3", "2026-11-02T10:00:00Z", value=True, currency="EUR"),
        converted("d3", "2026-11-02T10:00:00Z", campaign="B"),  # B never sent to d3
        converted("d3", "2026-11-02T10:00:00Z", campaign="Nope"),
        converted("zz", "2026-11-02T10:00:00Z"),
        converted("d1", "2026-11-02T10:00:00Z"),  # d1 is in two apps
        converted("d3", "2099-01-01T00:00:00Z"),
        converted("d3", "yesterday"),
        converted("d1", "2026-11-02T10:00:00Z", app="shop", conversion="signup"),  # good
    ]
    report = record_events(shop, events)
    assert (report.recorded, report.rejected) == (2, 14)
    problems = {e.row: (e.field, e.reason) for e in report.errors}
    assert problems[2] == ("currency", "'EURO' is not a three-letter ISO 4217 code such as EUR "
                                       "or USD")  # fmt: skip
    assert problems[3] == ("currency", "HRK is no longer an ISO 4217 currency; use EUR")
    assert problems[4][0] == "currency" and "required with a value" in problems[4][1]
    assert [problems[i][0] for i in range(5, 10)] == ["value"] * 5
    assert "dot for decimals" in problems[6][1] and "6 decimals" in problems[7][1]
    assert problems[10][0] == "campaign" and "did not send to this device" in problems[10][1]
    assert problems[11] == ("campaign", "no campaign named 'Nope'")
    assert problems[12] == ("device", "no device with this token")
    assert problems[13][0] == "device" and "several apps" in problems[13][1]
    assert problems[14][0] == "at" and "future" in problems[14][1]
    assert problems[15][0] == "at"
    rows = shop.query("SELECT value_micros, currency, conversion FROM conversions ORDER BY id")
    assert [tuple(r) for r in rows] == [(19_990_000, "EUR", ""), (None, "", "signup")]
    again = record_events(shop, [events[0], events[-1]])  # no event_id: derived, stable
    assert (again.recorded, again.duplicates) == (0, 2)


def test_only_a_named_campaign_is_checked_against_the_journal(shop: Workspace) -> None:
    """Main's journal check (an event for a device the campaign never sent to is refused)
    needs a campaign: an influenced conversion names none, so only its device is checked."""
    add_devices(shop, [{"token": "late"}])  # registered after every campaign was sent
    at = "2026-11-02T10:00:00Z"
    report = record_events(shop, [
        converted("late", at, conversion="signup"),  # influenced: no send to check
        opened("A", "late", at),  # engagement names its campaign: A never sent to it
        converted("late", at, campaign="A"),  # direct: checked like engagement
    ])  # fmt: skip
    assert (report.recorded, report.rejected) == (1, 2)
    problems = {e.row: (e.field, e.reason) for e in report.errors}
    assert problems[2][0] == "device" and "did not send to this device" in problems[2][1]
    assert problems[3][0] == "campaign" and "leave 'campaign' out" in problems[3][1]


def test_events_import_reads_conversions_from_csv(shop: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,kind,campaign,device,at,conversion,value,currency\n"
        "o1,opened,A,d1,2026-11-02T10:00:00Z,,,\n"
        "c1,converted,,d1,2026-11-02T11:00:00Z,purchase,42.50,EUR\n"
        "c2,converted,A,d4,2026-11-02T11:00:00Z,purchase,,\n"
        "c3,converted,,d2,2026-11-02T11:00:00Z,purchase,7,XYZ\n"
    )
    report = import_events_file(shop, path)
    assert (report.recorded, report.rejected) == (3, 1)
    assert (report.errors[0].row, report.errors[0].field) == (4, "currency")
    result = conversions(shop, "A").overall
    assert (result.conversions, result.direct, result.influenced) == (2, 1, 1)
    assert result.value == {"EUR": Decimal("42.5")}


# --------------------------------------------------------------------------- attribution


def story(ws: Workspace) -> None:
    """The cases of docs/reports.md, "Conversions", one device each."""
    record(
        ws,
        [
            opened("A", "d1", "2026-11-02T10:00:00Z"),
            converted("d1", "2026-11-02T11:00:00Z", value=10, currency="EUR"),  # influenced A
            converted("d1", "2026-11-02T11:30:00Z", value=5, currency="EUR"),  # again A
            converted("d1", "2026-11-02T11:40:00Z", value=3, currency="USD"),  # again A
            opened("A", "d2", "2026-11-02T10:00:00Z"),
            opened("B", "d2", "2026-11-02T10:30:00Z"),
            converted("d2", "2026-11-02T11:00:00Z"),  # the last opened is B: influenced B
            opened("A", "d3", "2026-11-02T10:00:00Z"),
            converted("d3", "2026-11-03T10:00:01Z"),  # 24 h and 1 s later: outside the window
            # direct A, with no open
            converted("d4", "2026-11-02T12:00:00Z", campaign="A", value=19.99, currency="EUR"),
            opened("A", "d5", "2026-11-02T10:00:00Z"),
            converted("d5", "2026-11-02T11:00:00Z", campaign="B"),  # direct B, not A
            opened("A", "d6", "2026-11-02T12:00:00Z"),
            converted("d6", "2026-11-02T11:00:00Z"),  # before its open: nobody's
        ],
    )


def test_direct_and_influenced_as_documented(shop: Workspace) -> None:
    story(shop)
    a = conversions(shop, "A").overall
    assert (a.conversions, a.direct, a.influenced) == (4, 1, 3)  # d1 ×3, d4
    assert (a.converted, a.converted_opened) == (2, 1)  # d1 and d4; only d1 opened
    assert (a.accepted, a.opened) == (7, 5)  # d1, d2, d3, d5, d6 opened A
    assert a.conversion_rate_of_accepted == 2 / 7 and a.conversion_rate_of_opened == 1 / 5
    assert a.value == {"EUR": Decimal("34.99"), "USD": Decimal(3)}
    b = conversions(shop, "B").overall
    assert (b.conversions, b.direct, b.influenced, b.converted) == (2, 1, 1, 2)  # d5, d2
    # A week-long window credits d3's conversion (24 h and 1 s after opening A) to A.
    update_app_rules(shop, "shop", attribution_window=parse_window("7d", "w"))
    a = conversions(shop, "A").overall
    assert (a.conversions, a.influenced, a.converted) == (5, 4, 3)


def test_attribution_does_not_depend_on_the_order_events_arrive(shop: Workspace) -> None:
    # The conversions come first (a file imported before the app's opens are).
    record(shop, [converted("d1", "2026-11-02T11:00:00Z"), converted("d2", "2026-11-02T11:00:00Z")])
    assert conversions(shop, "A").overall.conversions == 0
    record(shop, [opened("A", "d1", "2026-11-02T10:00:00Z"),
                  opened("B", "d2", "2026-11-02T10:00:00Z")])  # fmt: skip
    assert conversions(shop, "A").overall.influenced == 1
    assert conversions(shop, "B").overall.influenced == 1


def test_hold_out_comparison_and_exports(ws: Workspace) -> None:
    add_devices(ws, [{"token": f"h{i:03d}"} for i in range(200)])
    send(ws, "Lift", {"all": True}, control_percent=50)
    rows = ws.query(
        "SELECT d.token, j.state FROM journal j JOIN devices d ON d.id = j.device_id"
        " WHERE j.campaign_id = ? ORDER BY d.token", (get_campaign(ws, "Lift").id,))  # fmt: skip
    sent = [r[0] for r in rows if r[1] == "accepted"]
    held = [r[0] for r in rows if r[1] == "control"]
    assert len(sent) + len(held) == 200 and sent and held
    events = [converted(t, "2026-11-02T20:00:00Z", value=1, currency="EUR") for t in sent[:30]]
    events += [converted(t, "2026-11-02T20:00:00Z") for t in held[:10]]
    events += [converted(t, "2026-11-04T20:00:00Z") for t in held[10:20]]  # after the window
    events += [opened("Lift", t, "2026-11-02T19:00:00Z") for t in sent[:20]]
    record(ws, events)
    report = conversions(ws, "Lift")
    o = report.overall
    assert (o.window_converted, o.accepted) == (30, len(sent))
    assert (o.holdout_converted, o.holdout) == (10, len(held))
    assert (o.influenced, o.converted) == (20, 20)  # only those who opened are credited
    assert report.lift is not None and report.lift.points == pytest.approx(
        (30 / len(sent) - 10 / len(held)) * 100
    )
    assert report.lift.p_value is not None and 0 < report.lift.p_value < 1
    data = dashboard_data(ws, "Lift")
    buffer = io.StringIO()
    write_aggregates_csv(data, buffer)
    table = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    overall = next(r for r in table if r["dimension"] == "overall")
    assert overall["conversions"] == "20" and overall["conversions_influenced"] == "20"
    assert overall["value_EUR"] == "20" and overall["holdout_converted"] == "10"
    assert overall["holdout"] == str(len(held)) and overall["converted_within_window"] == "30"
    rate = float(overall["conversion_rate_of_accepted"])
    assert rate == pytest.approx(20 / len(sent), abs=1e-6)
    page = render_html(data, {})
    assert "Conversions: sent vs hold-out" in page and "20.00 EUR" in page
    assert "converted within 24 h" in page and "attribution window (24 h)" in page


def test_the_ab_verdict_can_use_conversions(ws: Workspace) -> None:
    add_devices(ws, [{"token": f"v{i:03d}"} for i in range(400)])
    send(ws, "AB", {"all": True}, ab_metric="conversions",
         variants=[{"name": "A", "percent": 50}, {"name": "B", "percent": 50}])  # fmt: skip
    arms = ws.query(
        "SELECT d.token, j.variant FROM journal j JOIN devices d ON d.id = j.device_id"
        " WHERE j.campaign_id = ? ORDER BY d.token", (get_campaign(ws, "AB").id,))  # fmt: skip
    a = [t for t, v in arms if v == "A"]
    b = [t for t, v in arms if v == "B"]
    # Everyone opens; B's recipients convert 3 times as often (direct, naming the campaign).
    events = [opened("AB", t, "2026-11-02T10:00:00Z") for t in a + b]
    events += [converted(t, "2026-11-02T11:00:00Z", campaign="AB") for t in a[:15] + b[:45]]
    record(ws, events)
    ab = dashboard_data(ws, "AB").ab
    assert ab is not None and ab.metric == "conversions" and ab.winner == "B"
    assert ab.verdict.startswith("B wins: it converts more often")
    assert {s.name: s.opened for s in ab.variants} == {"A": 15, "B": 45}


def test_the_collector_file_format_matches_the_docs(shop: Workspace, tmp_path: Path) -> None:
    """The NDJSON example of docs/engagement-events.md, "Conversions", as written there."""
    docs = Path(__file__).resolve().parents[2] / "docs" / "engagement-events.md"
    text = docs.read_text(encoding="utf-8")
    example = text.split("```json conversion")[1].split("```")[0]
    event = json.loads(example)
    event.update(device="d1", campaign="A", at="2026-11-02T11:00:00Z")
    report = record_events(shop, [event])
    assert report.recorded == 1, report.errors


def test_a_cached_report_sees_new_conversions(shop: Workspace) -> None:
    cache = ReportCache()
    first = dashboard_data(shop, "A", cache)
    assert dashboard_data(shop, "A", cache) is first
    record(shop, [converted("d4", "2026-11-02T12:00:00Z", campaign="A")])  # no new event
    second = dashboard_data(shop, "A", cache)
    assert second.conversions is not None and second.conversions.overall.direct == 1


def test_the_pdf_report_holds_the_conversions(
    shop: Workspace, ws_target: Path | str, tmp_path: Path
) -> None:
    """Through ``pushdeck report --format pdf`` (another process, Qt offscreen)."""
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("poppler-utils not installed")
    story(shop)
    out = tmp_path / "a.pdf"
    done = subprocess.run(
        [sys.executable, "-m", "pushdeck", "--workspace", str(ws_target), "report", "A",
         "--format", "pdf", "-o", str(out)], capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = subprocess.run([pdftotext, "-layout", str(out), "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    # One line per run of words, ligatures (ﬂ, ﬁ) spelled out.
    words = " ".join(text.replace("\ufb02", "fl").replace("\ufb01", "fi").split())
    assert "4 conversions credited (1 direct, 3 influenced)" in words
    assert "34.99 EUR; 3.00 USD" in words
    assert "(all) 4 1 3 2 28.6 % 20.0 % 34.99 EUR; 3.00 USD" in words  # the table
    assert "conversion_rate_of_opened converted devices that opened ÷ opened" in words
