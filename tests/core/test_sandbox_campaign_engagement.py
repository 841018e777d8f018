"""Every campaign sent through the sandbox gets simulated engagement, not only the demo's.

The sends go through the real dispatcher (and, in one test, the real CLI in its own
process); the engagement arrives through the events path a real app uses (validated,
idempotent by event id, rolled into the journal by the trigger), at the open rate the
sandbox credential shows, with times spread after each send the way devices report
them, and it is all recorded by the time the send returns.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from pushdeck.core.campaigns.dispatch import send_campaign
from pushdeck.core.campaigns.library import create_campaign, get_campaign
from pushdeck.core.campaigns.spec import AudienceKind, AudienceSpec, CampaignSpec
from pushdeck.core.common.model import Message, ProviderKind
from pushdeck.core.credentials.secrets import load_credential, store_credential
from pushdeck.core.demo.workspace import DEMO_APP, create_demo
from pushdeck.core.providers.base import create_provider
from pushdeck.core.reports.analytics import overall
from pushdeck.core.store import Workspace

APP = DEMO_APP.name


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_demo(tmp_path_factory.mktemp("sandbox") / "demo.pushdeck", devices=2500)


@pytest.fixture
def ws(demo_file: Path, tmp_path: Path):
    import shutil

    path = tmp_path / "demo.pushdeck"
    shutil.copy(demo_file, path)
    with Workspace.open(path) as workspace:
        yield workspace


def _set_open_rate(ws: Workspace, rate: float) -> None:
    facts = {"behaviour": {"failure_rate": 0.02, "open_rate": rate, "seed": 3, "latency_ms": 0}}
    store_credential(ws, APP, ProviderKind.SANDBOX, "sandbox", None, facts)


def _send(ws: Workspace, name: str, message: Message | None = None) -> None:
    spec = CampaignSpec(
        name,
        APP,
        message or Message(title="Hello", body="A new campaign"),
        AudienceSpec(AudienceKind.ALL),
    )
    create_campaign(ws, spec)
    provider = create_provider(load_credential(ws, APP, ProviderKind.SANDBOX))
    send_campaign(ws, name, providers={ProviderKind.SANDBOX: provider})


@pytest.mark.parametrize("rate", [0.1, 0.45])
def test_a_new_campaign_is_opened_at_the_credentials_rate(ws: Workspace, rate: float) -> None:
    _set_open_rate(ws, rate)
    _send(ws, f"New at {rate}")
    funnel = overall(ws, f"New at {rate}")  # read right after the send returned
    assert funnel.accepted > 2000
    assert funnel.opened / funnel.accepted == pytest.approx(rate, abs=0.03)
    assert funnel.delivered / funnel.accepted == pytest.approx(0.95, abs=0.03)


def test_event_times_spread_after_each_send_like_devices_report(ws: Workspace) -> None:
    _set_open_rate(ws, 0.3)
    _send(ws, "Spread")
    campaign = get_campaign(ws, "Spread")
    rows = ws.query(
        "SELECT j.sent_at, j.finished_at, e.kind, e.at, e.received_at FROM events e"
        " JOIN journal j ON j.campaign_id = e.campaign_id AND j.device_id = e.device_id"
        " WHERE e.campaign_id = ?",
        (campaign.id,),
    )
    assert rows
    delays: dict[str, list[float]] = {}
    for sent_at, finished_at, kind, at, _received in rows:
        delay = (_when(at) - _when(finished_at or sent_at)).total_seconds()
        assert -2 <= delay <= timedelta(hours=49).total_seconds()  # never before its send
        delays.setdefault(kind, []).append(delay)
    # Deliveries mostly within seconds (offline devices hours later); opens over minutes
    # to hours after: the shape real devices report, not one instant.
    assert statistics.median(delays["delivered"]) < 30
    assert max(delays["delivered"]) > 600
    assert 120 < statistics.median(delays["opened"]) < 7200
    assert max(delays["opened"]) > 3 * 3600
    assert len({at for *_x, at, _r in rows}) > len(rows) // 3


def test_a_resend_after_a_crash_never_double_counts(ws: Workspace) -> None:
    import asyncio

    from pushdeck.core.campaigns.templating import Personalizer
    from pushdeck.core.campaigns.variants import notification_id
    from pushdeck.core.engagement.events import record_reported_engagement
    from pushdeck.core.store.devices import list_devices

    _set_open_rate(ws, 0.3)
    _send(ws, "Once")
    campaign = get_campaign(ws, "Once")
    opened = overall(ws, "Once").opened
    # A crash between send and journal write makes the next run send some devices again:
    # a new provider (a new process) reports the same engagement with the same event ids.
    provider = create_provider(load_credential(ws, APP, ProviderKind.SANDBOX))
    personalizer = Personalizer(campaign.spec)
    accepted = (
        "d.id IN (SELECT device_id FROM journal WHERE campaign_id = ? AND state = 'accepted')"
    )
    for device in list_devices(ws, where=accepted, params=(campaign.id,), limit=300):
        nid = notification_id("Once", device.app, device.token)
        asyncio.run(provider.send(personalizer.render(device), device, notification_id=nid))
    report = record_reported_engagement(ws, [provider])
    assert report.received > 50
    assert report.recorded == 0 and report.duplicates == report.received
    assert overall(ws, "Once").opened == opened


def test_variants_and_actions_are_attributed(ws: Workspace) -> None:
    from pushdeck.core.campaigns.spec import VariantSpec
    from pushdeck.core.common.model import Action

    _set_open_rate(ws, 0.4)
    spec = CampaignSpec(
        "AB",
        APP,
        Message(title="Hi", body="A", actions=(Action("buy", "Buy"),)),
        AudienceSpec(AudienceKind.ALL),
        variants=(VariantSpec("A", 50), VariantSpec("B", 50, {"body": "B"})),
    )
    create_campaign(ws, spec)
    provider = create_provider(load_credential(ws, APP, ProviderKind.SANDBOX))
    send_campaign(ws, "AB", providers={ProviderKind.SANDBOX: provider})
    campaign_id = get_campaign(ws, "AB").id
    by_variant = dict(
        ws.query(
            "SELECT variant, count(*) FROM events WHERE campaign_id = ? AND kind = 'opened'"
            " GROUP BY variant",
            (campaign_id,),
        )
    )
    assert set(by_variant) == {"A", "B"}
    assert ws.scalar(
        "SELECT count(*) FROM events WHERE campaign_id = ? AND kind = 'action'"
        " AND action_id = 'buy'",
        (campaign_id,),
    )


def test_the_cli_send_records_engagement_before_it_exits(demo_file: Path, tmp_path: Path) -> None:
    import shutil

    path = tmp_path / "cli.pushdeck"
    shutil.copy(demo_file, path)

    def pushdeck(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "pushdeck", "--workspace", str(path), *args],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    pushdeck("credentials", "set-sandbox", APP, "--open-rate", "0.25")
    spec = {"name": "By CLI", "app": APP, "audience": {"all": True},
            "message": {"title": "Hi", "body": "From the CLI"}}  # fmt: skip
    (tmp_path / "c.json").write_text(json.dumps(spec))
    pushdeck("campaigns", "create", "--file", str(tmp_path / "c.json"))
    pushdeck("campaigns", "send", "By CLI")
    row = next(
        csv.DictReader(io.StringIO(pushdeck("report", "By CLI", "--format", "csv", "-o", "-")))
    )
    assert int(row["accepted"]) > 2000
    assert float(row["open_rate_of_accepted"]) == pytest.approx(0.25, abs=0.03)


def test_the_demo_keeps_its_own_ab_engagement(ws: Workspace) -> None:
    from pushdeck.core.demo.campaign import DEMO_CAMPAIGN

    campaign = get_campaign(ws, DEMO_CAMPAIGN)
    # Backdated two days with the whole curve: no event is later than now.
    latest = ws.scalar("SELECT max(at) FROM events WHERE campaign_id = ?", (campaign.id,))
    assert _when(latest) <= datetime.now(_when(latest).tzinfo)
    opened = dict(
        ws.query(
            "SELECT variant, count(*) FROM events WHERE campaign_id = ?"
            " AND kind IN ('opened', 'action') GROUP BY variant",
            (campaign.id,),
        )
    )
    assert opened["B"] > opened["A"]  # B wins, as the demo shows


def test_single_pushes_without_a_campaign_report_nothing() -> None:
    import asyncio

    from pushdeck.core.common.model import Device, Platform
    from pushdeck.core.providers.credentials import SandboxCredential

    provider = create_provider(SandboxCredential(latency_ms=0, failure_rate=0, open_rate=1.0))
    device = Device(app=APP, platform=Platform.IOS, provider=ProviderKind.SANDBOX, token="a" * 64)
    asyncio.run(provider.send(Message(title="x"), device))
    assert provider.take_engagement() == []  # type: ignore[attr-defined]
    campaign = replace(Message(title="x"), data={"pushdeck_campaign": "C"})
    asyncio.run(provider.send(campaign, device))
    assert provider.take_engagement()  # type: ignore[attr-defined]
