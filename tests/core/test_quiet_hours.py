"""Quiet hours: devices inside theirs (their own time zone, else the app's) are held and
sent when they end, by ``run_due`` with a clock the test controls, and by a
``pushdeck campaigns run-due`` process with the real one; or skipped with the reason."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pushdeck.core.campaigns.dispatch import (
    DispatchOptions,
    cancel_campaign,
    send_campaign,
    send_campaign_async,
)
from pushdeck.core.campaigns.hygiene import update_app_rules
from pushdeck.core.campaigns.library import create_campaign, get_campaign
from pushdeck.core.campaigns.review import review_campaign
from pushdeck.core.campaigns.scheduling import run_due
from pushdeck.core.campaigns.spec import CampaignStatus, spec_from_dict
from pushdeck.core.common.model import App, ProviderKind
from pushdeck.core.credentials.secrets import store_credential
from pushdeck.core.reports.analytics import campaign_report
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from pushdeck.core.store.journal import journal_rows
from tests.core.campaign_helpers import FakeProvider, add_devices, record_credentials

NIGHT = {"from": "21:00", "to": "08:00", "then": "hold"}
# 2026-05-01 21:30 UTC is 06:30 on May 2 in Tokyo (+9), 22:30 in Lisbon (+1, summer),
# 17:30 in New York (-4, summer) and 03:00 on May 2 in Kolkata (+5:30).
EVENING = datetime(2026, 5, 1, 21, 30, tzinfo=UTC)


SANDBOX = {"behaviour": {"latency_ms": 0, "failure_rate": 0, "dead_rate": 0}}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def setup(ws: Workspace, **fields: Any) -> FakeProvider:
    add_devices(ws, [
        {"token": "tokyo", "timezone": "Asia/Tokyo"},
        {"token": "lisbon", "timezone": "Europe/Lisbon"},
        {"token": "ny", "timezone": "America/New_York"},
        {"token": "nowhere", "timezone": ""},  # the app's default zone: Kolkata
        {"token": "mine", "timezone": "Europe/Lisbon", "test": True},
    ])  # fmt: skip
    update_app_rules(ws, "shop", timezone="Asia/Kolkata")
    record_credentials(ws)
    doc = {"name": "Night", "app": "shop", "audience": {"all": True},
           "message": {"title": "Hi"}, **fields}  # fmt: skip
    create_campaign(ws, spec_from_dict(doc))
    return FakeProvider()


def states(ws: Workspace, name: str = "Night") -> dict[str, tuple[str, str | None]]:
    """token -> (state, release time or reason)."""
    tokens = dict(ws.query("SELECT id, token FROM devices"))
    return {
        tokens[r["device_id"]]: (r["state"], r["release_at"] or r["reason"] or None)
        for r in journal_rows(ws, get_campaign(ws, name).id)
    }


async def test_held_devices_go_when_their_own_quiet_hours_end(ws: Workspace) -> None:
    fake = setup(ws, quiet_hours=NIGHT)
    review = review_campaign(ws, "Night", now=EVENING)
    assert [(g.timezone, g.devices, g.release_at) for g in review.held] == [
        ("Asia/Tokyo", 1, utc("2026-05-01 23:00")),  # 08:00 in Tokyo
        ("Asia/Kolkata", 1, utc("2026-05-02 02:30")),  # 08:00 in Kolkata (no zone: default)
        ("Europe/Lisbon", 1, utc("2026-05-02 07:00")),  # 08:00 in Lisbon
    ]
    assert review.held[0].words == "08:00 on 2026-05-02 in Asia/Tokyo (2026-05-01 23:00 UTC)"
    assert review.eligible == 5 and review.excluded == []  # held devices are still sent

    providers = {ProviderKind.APNS: fake}
    await send_campaign_async(
        ws, "Night", providers=providers, options=DispatchOptions(clock=lambda: EVENING)
    )
    assert states(ws) == {
        "tokyo": ("held", "2026-05-01T23:00:00Z"),
        "lisbon": ("held", "2026-05-02T07:00:00Z"),
        "ny": ("accepted", None),  # 17:30 there
        "nowhere": ("held", "2026-05-02T02:30:00Z"),
        "mine": ("accepted", None),  # a test device: never held
    }
    campaign = get_campaign(ws, "Night")
    assert campaign.status is CampaignStatus.SCHEDULED
    assert campaign.scheduled_at == "2026-05-01T23:00:00Z"

    report = await run_due(ws, lambda app: providers, now=utc("2026-05-01 22:59"))
    assert report.waiting == ["Night"] and report.sent == []
    report = await run_due(ws, lambda app: providers, now=utc("2026-05-01 23:00"))
    assert report.sent == ["Night"] and states(ws)["tokyo"] == ("accepted", None)
    assert get_campaign(ws, "Night").scheduled_at == "2026-05-02T02:30:00Z"
    await run_due(ws, lambda app: providers, now=utc("2026-05-02 02:31"))
    assert states(ws)["nowhere"] == ("accepted", None)
    assert states(ws)["lisbon"][0] == "held"
    await run_due(ws, lambda app: providers, now=utc("2026-05-02 07:00"))
    assert {s for s, _ in states(ws).values()} == {"accepted"}
    assert get_campaign(ws, "Night").status is CampaignStatus.SENT
    assert len(fake.received) == 5 and set(fake.received.values()) == {1}


async def test_a_release_run_inside_the_next_quiet_hours_holds_again(ws: Workspace) -> None:
    fake = setup(ws, quiet_hours=NIGHT)
    providers = {ProviderKind.APNS: fake}
    await send_campaign_async(
        ws, "Night", providers=providers, options=DispatchOptions(clock=lambda: EVENING)
    )
    # Nothing ran until 22:30 the next evening in Lisbon (21:30 UTC): Tokyo (06:30 there)
    # and Kolkata (03:00) are inside their next night; Lisbon too. All wait again.
    next_evening = EVENING + timedelta(days=1)
    await run_due(ws, lambda app: providers, now=next_evening)
    assert states(ws) == {
        "tokyo": ("held", "2026-05-02T23:00:00Z"),
        "lisbon": ("held", "2026-05-03T07:00:00Z"),
        "ny": ("accepted", None),
        "nowhere": ("held", "2026-05-03T02:30:00Z"),
        "mine": ("accepted", None),
    }
    cancel_campaign(ws, "Night")  # held devices are cancelled with the rest
    assert {s for s, _ in states(ws).values()} == {"accepted", "cancelled"}
    assert await run_due(ws, lambda app: providers, now=utc("2026-05-04 12:00")) is not None
    assert len(fake.received) == 2


async def test_skip_excludes_with_the_reason_and_the_app_default_applies(ws: Workspace) -> None:
    fake = setup(ws)  # no quiet hours of its own: the app's default
    update_app_rules(
        ws, "shop", quiet_hours=spec_from_dict(
            {"name": "x", "app": "shop", "audience": {"all": True}, "message": {"title": "t"},
             "quiet_hours": {**NIGHT, "then": "skip"}}).quiet_hours,
    )  # fmt: skip
    reason = "quiet hours (21:00–08:00)"
    review = review_campaign(ws, "Night", now=EVENING)
    assert review.excluded == [(reason, 3)] and review.held == [] and review.eligible == 2
    await send_campaign_async(ws, "Night", providers={ProviderKind.APNS: fake},
                  options=DispatchOptions(clock=lambda: EVENING))  # fmt: skip
    assert states(ws) == {
        "tokyo": ("excluded", reason), "lisbon": ("excluded", reason), "nowhere": (
            "excluded", reason), "ny": ("accepted", None), "mine": ("accepted", None),
    }  # fmt: skip
    assert get_campaign(ws, "Night").status is CampaignStatus.SENT
    assert campaign_report(ws, "Night")["excluded_by_reason"] == {reason: 3}


async def test_a_scheduled_campaign_is_judged_at_its_own_time(ws: Workspace) -> None:
    # Reviewed at noon for 21:30 UTC: the review judges 21:30, not noon.
    setup(ws, quiet_hours=NIGHT, schedule={"at": "2026-05-01T21:30:00Z"})
    review = review_campaign(ws, "Night", now=utc("2026-05-01 12:00"))
    assert review.held_devices == 3 and review.held[0].timezone == "Asia/Tokyo"


# --------------------------------------------------------------------------- another process


def test_campaigns_run_due_releases_held_devices(tmp_path: Path) -> None:
    """A ``pushdeck campaigns run-due`` process, on the real clock, sends the devices whose
    quiet hours have ended and keeps those whose have not."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    # A window from now+2h to now-1h (wall clock, crossing midnight: 21 hours long).
    window = {"from": f"{now + timedelta(hours=2):%H:%M}",
              "to": f"{now - timedelta(hours=1):%H:%M}", "then": "hold"}  # fmt: skip
    sent_at = now - timedelta(hours=2)
    path = tmp_path / "w.pushdeck"
    with Workspace.open(path) as ws:
        add_app(ws, App("shop"))
        sandbox = {"provider": "sandbox", "platform": "android"}
        add_devices(ws, [
            {"token": "utc", "timezone": "UTC", **sandbox},  # now-2h there: held until now-1h
            {"token": "plus5", "timezone": "Etc/GMT-5", **sandbox},  # now+3h: until now+18h
            {"token": "plus1", "timezone": "Etc/GMT-1", **sandbox},  # now-1h: not quiet
        ])  # fmt: skip
        store_credential(ws, "shop", ProviderKind.SANDBOX, "sandbox", None, SANDBOX)
        doc = {"name": "Night", "app": "shop", "audience": {"all": True},
               "message": {"title": "Hi"}, "quiet_hours": window}  # fmt: skip
        create_campaign(ws, spec_from_dict(doc))
        fake = FakeProvider(provider_kind=ProviderKind.SANDBOX)
        send_campaign(ws, "Night", providers={ProviderKind.SANDBOX: fake},
                      options=DispatchOptions(clock=lambda: sent_at))  # fmt: skip
        held = {t: s for t, s in states(ws).items()}
        assert held["plus1"] == ("accepted", None)
        assert held["utc"] == ("held", f"{now - timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}")
        assert held["plus5"] == ("held", f"{now + timedelta(hours=18):%Y-%m-%dT%H:%M:%SZ}")
    done = subprocess.run(
        [sys.executable, "-m", "pushdeck", "--workspace", str(path), "campaigns", "run-due",
         "--json"], capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sent"] == ["Night"]
    with Workspace.open(path) as ws:
        after = states(ws)
        assert after["utc"] == ("accepted", None)  # sent by the other process
        assert after["plus5"][0] == "held"
        campaign = get_campaign(ws, "Night")
        assert campaign.status is CampaignStatus.SCHEDULED
        assert campaign.scheduled_at == f"{now + timedelta(hours=18):%Y-%m-%dT%H:%M:%SZ}"


async def test_held_devices_beside_skipped_ones_wait_and_are_not_nothing_sent(
    ws: Workspace,
) -> None:
    """Merged with main's 'nothing sent' failure: devices held for their quiet hours are
    still to be sent, so a send whose other devices were all skipped waits as scheduled."""
    add_devices(ws, [
        {"token": "tokyo", "timezone": "Asia/Tokyo", "attributes": {"visits": 5}},
        {"token": "ny", "timezone": "America/New_York", "attributes": {"visits": 0}},
    ])  # fmt: skip
    doc = {"name": "Night", "app": "shop", "audience": {"all": True}, "quiet_hours": NIGHT,
           "message": {"title": "Hi", "body": "{{ 100 | divided_by: visits }} points"}}  # fmt: skip
    create_campaign(ws, spec_from_dict(doc))
    fake = FakeProvider()
    providers = {ProviderKind.APNS: fake}
    summary = await send_campaign_async(
        ws, "Night", providers=providers, options=DispatchOptions(clock=lambda: EVENING)
    )
    assert summary.counts == {"held": 1, "skipped": 1}
    campaign = get_campaign(ws, "Night")
    assert campaign.status is CampaignStatus.SCHEDULED and not campaign.error
    assert campaign.scheduled_at == "2026-05-01T23:00:00Z"
    await run_due(ws, lambda app: providers, now=utc("2026-05-01 23:00"))
    assert states(ws)["tokyo"] == ("accepted", None)
    assert get_campaign(ws, "Night").status is CampaignStatus.SENT
    assert fake.messages["tokyo"].body == "20 points"
