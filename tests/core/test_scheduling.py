"""Scheduling: at a UTC time, at a local time per time zone, missed schedules wait."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from pushdeck.core.campaigns.dispatch import campaign_status
from pushdeck.core.campaigns.library import create_campaign, get_campaign
from pushdeck.core.campaigns.schedule_times import local_due
from pushdeck.core.campaigns.scheduling import decide_missed, missed_campaigns, run_due
from pushdeck.core.campaigns.spec import CampaignStatus, spec_from_dict
from pushdeck.core.common.model import ProviderKind
from pushdeck.core.store import Workspace
from tests.core.campaign_helpers import FakeProvider, add_devices

ZONES = {"tokyo": "Asia/Tokyo", "lisbon": "Europe/Lisbon", "ny": "America/New_York", "none": ""}


def make(ws: Workspace, schedule: dict[str, Any]) -> FakeProvider:
    add_devices(ws, [{"token": t, "timezone": z} for t, z in ZONES.items()])
    doc = {
        "name": "S",
        "app": "shop",
        "audience": {"all": True},
        "message": {"title": "x"},
        "schedule": schedule,
    }
    create_campaign(ws, spec_from_dict(doc))
    return FakeProvider()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_utc_schedule_waits_then_sends(ws: Workspace) -> None:
    fake = make(ws, {"at": "2026-12-01T09:00:00Z"})
    report = await run_due(
        ws, lambda app: {ProviderKind.APNS: fake}, now=at("2026-12-01T08:59:00Z")
    )
    assert report.waiting == ["S"] and not fake.received
    report = await run_due(
        ws, lambda app: {ProviderKind.APNS: fake}, now=at("2026-12-01T09:05:00Z")
    )
    assert report.sent == ["S"] and len(fake.received) == 4
    assert get_campaign(ws, "S").status is CampaignStatus.SENT


async def test_missed_schedule_is_reported_and_waits_for_a_decision(ws: Workspace) -> None:
    fake = make(ws, {"at": "2026-12-01T09:00:00Z"})
    providers = {ProviderKind.APNS: fake}
    report = await run_due(ws, lambda app: providers, now=at("2026-12-01T12:00:00Z"))
    assert report.missed == ["S"] and report.sent == [] and not fake.received
    campaign = get_campaign(ws, "S")
    assert campaign.status is CampaignStatus.MISSED and "nothing was sent" in campaign.error
    assert [c.name for c in missed_campaigns(ws)] == ["S"]
    # Running again never sends it late on its own.
    await run_due(ws, lambda app: providers, now=at("2026-12-01T13:00:00Z"))
    assert not fake.received
    await decide_missed(ws, "S", send_now=True, providers=providers)
    assert len(fake.received) == 4 and get_campaign(ws, "S").status is CampaignStatus.SENT


async def test_missed_schedule_can_be_cancelled(ws: Workspace) -> None:
    make(ws, {"at": "2026-12-01T09:00:00Z"})
    await run_due(ws, lambda app: {}, now=at("2026-12-02T00:00:00Z"))
    await decide_missed(ws, "S", send_now=False)
    assert campaign_status(ws, "S")["status"] == "cancelled"


def test_local_due_per_zone() -> None:
    doc = {
        "name": "S",
        "app": "shop",
        "audience": {"all": True},
        "message": {"title": "x"},
        "schedule": {"local_time": "09:00", "date": "2026-12-01"},
    }
    schedule = spec_from_dict(doc).schedule
    assert local_due(schedule, "Asia/Tokyo") == at("2026-12-01T00:00:00Z")
    assert local_due(schedule, "America/New_York") == at("2026-12-01T14:00:00Z")
    assert local_due(schedule, "") == at("2026-12-01T09:00:00Z")  # default zone: UTC


async def test_local_time_sends_each_zone_when_its_time_comes(ws: Workspace) -> None:
    fake = make(ws, {"local_time": "09:00", "date": "2026-12-01"})
    providers = {ProviderKind.APNS: fake}
    created = get_campaign(ws, "S")
    assert created.scheduled_at == "2026-11-30T19:00:00Z"  # 09:00 at UTC+14, the earliest

    def sent_tokens() -> set[str]:
        return {t for t, m in fake.messages.items()}

    await run_due(ws, lambda app: providers, now=at("2026-12-01T00:10:00Z"))
    assert sent_tokens() == {"tokyo"}
    assert get_campaign(ws, "S").status is CampaignStatus.SCHEDULED
    await run_due(ws, lambda app: providers, now=at("2026-12-01T09:10:00Z"))
    assert sent_tokens() == {"tokyo", "lisbon", "none"}
    await run_due(ws, lambda app: providers, now=at("2026-12-01T14:01:00Z"))
    assert sent_tokens() == set(ZONES)
    assert get_campaign(ws, "S").status is CampaignStatus.SENT
    assert set(fake.received.values()) == {1}


async def test_local_zone_missed_waits(ws: Workspace) -> None:
    fake = make(ws, {"local_time": "09:00", "date": "2026-12-01"})
    report = await run_due(
        ws, lambda app: {ProviderKind.APNS: fake}, now=at("2026-12-01T03:00:00Z")
    )
    assert report.missed == ["S"] and not fake.received
    assert "Asia/Tokyo" in get_campaign(ws, "S").error


@pytest.mark.parametrize("grace_minutes", [60])
async def test_grace_period(ws: Workspace, grace_minutes: int) -> None:
    fake = make(ws, {"at": "2026-12-01T09:00:00Z"})
    report = await run_due(
        ws,
        lambda app: {ProviderKind.APNS: fake},
        now=at("2026-12-01T09:45:00Z"),
        grace=timedelta(minutes=grace_minutes),
    )
    assert report.sent == ["S"]
