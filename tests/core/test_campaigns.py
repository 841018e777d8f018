"""Campaign specs: the JSON file form, validation with field names, storage rules."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pushdeck.core.campaigns.audience import count_audience, exclusion_reason, iter_audience
from pushdeck.core.campaigns.library import (
    create_campaign,
    duplicate_campaign,
    get_campaign,
    list_campaigns,
    set_status,
    update_campaign,
)
from pushdeck.core.campaigns.spec import (
    AudienceKind,
    CampaignStatus,
    ScheduleKind,
    load_spec_file,
    spec_from_dict,
    spec_to_dict,
)
from pushdeck.core.common.errors import ConfigError, ValidationError
from pushdeck.core.common.model import ProviderKind
from pushdeck.core.store import Workspace
from pushdeck.core.store.segments import Segment, save_segment
from tests.core.campaign_helpers import add_devices

MINIMAL = {
    "name": "Spring sale",
    "app": "shop",
    "audience": {"all": True},
    "message": {"title": "Hi", "body": "Sale"},
}
FULL = {
    **MINIMAL,
    "localizations": {"pt_br": {"title": "Olá"}, "pt": {"title": "Oi"}},
    "variants": [
        {"name": "A", "percent": 50},
        {"name": "B", "percent": 50, "message": {"body": "Big sale"}},
    ],
    "control_percent": 10,
    "schedule": {"at": "2026-12-01T09:00:00Z"},
    "throttle_per_minute": 600,
    "ttl_seconds": 3600,
    "description": "test",
}


def test_minimal_file_parses_with_defaults() -> None:
    spec = spec_from_dict(MINIMAL)
    assert spec.audience.kind is AudienceKind.ALL
    assert spec.schedule.kind is ScheduleKind.NOW
    assert spec.message.title == "Hi"
    assert spec.variants == () and spec.throttle_per_minute == 0


def test_full_file_round_trips() -> None:
    spec = spec_from_dict(FULL)
    assert set(spec.localizations) == {"pt-BR", "pt"}  # locale keys normalized
    assert spec.schedule.at == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert spec_from_dict(spec_to_dict(spec)) == spec


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"audience": {"segment": ""}}, "audience.segment"),
        ({"audinece": {}}, "audinece"),
        ({"message": {"titel": "x"}}, "message.titel"),
        ({"variants": [{"name": "A", "percent": 60}, {"name": "B", "percent": 30}]}, "variants"),
        ({"schedule": {"at": "2026-12-01T09:00:00"}}, "schedule.at"),
        ({"schedule": {"local_time": "25:00", "date": "2026-12-01"}}, "schedule.local_time"),
        ({"throttle_per_minute": -1}, "throttle_per_minute"),
        ({"localizations": {"pt": {"bdy": "x"}}}, "localizations.pt.bdy"),
    ],
)
def test_bad_fields_are_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        spec_from_dict({**MINIMAL, **change})
    assert info.value.field == field


def test_missing_required_field() -> None:
    doc = dict(MINIMAL)
    del doc["audience"]
    with pytest.raises(ValidationError, match="audience"):
        spec_from_dict(doc)


def test_load_file_reports_json_position(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"name": "x",\n "app": }')
    with pytest.raises(ValidationError, match="line 2"):
        load_spec_file(path)


def test_create_get_list_and_unique_name(ws: Workspace) -> None:
    created = create_campaign(ws, spec_from_dict(MINIMAL))
    assert created.status is CampaignStatus.DRAFT
    assert get_campaign(ws, "Spring sale").spec == created.spec
    assert [c.name for c in list_campaigns(ws)] == ["Spring sale"]
    with pytest.raises(ConfigError, match="already exists"):
        create_campaign(ws, spec_from_dict(MINIMAL))


def test_scheduled_campaign_records_due_time(ws: Workspace) -> None:
    created = create_campaign(ws, spec_from_dict(FULL))
    assert created.status is CampaignStatus.SCHEDULED
    assert created.scheduled_at == "2026-12-01T09:00:00Z"


def test_unknown_app_or_segment_is_a_clear_error(ws: Workspace) -> None:
    with pytest.raises(ConfigError, match="no app named 'nope'"):
        create_campaign(ws, spec_from_dict({**MINIMAL, "app": "nope"}))
    with pytest.raises(ConfigError, match="no segment named 'vip'"):
        create_campaign(ws, spec_from_dict({**MINIMAL, "audience": {"segment": "vip"}}))


def test_sent_campaign_is_immutable_and_duplicate_is_editable(ws: Workspace) -> None:
    spec = spec_from_dict(MINIMAL)
    create_campaign(ws, spec)
    update_campaign(ws, "Spring sale", replace(spec, description="edited"))
    assert get_campaign(ws, "Spring sale").spec.description == "edited"
    set_status(ws, "Spring sale", CampaignStatus.SENT)
    with pytest.raises(ConfigError, match="cannot be changed"):
        update_campaign(ws, "Spring sale", spec)
    copy = duplicate_campaign(ws, "Spring sale", "Spring sale 2")
    assert copy.status is CampaignStatus.DRAFT and copy.spec.description == "edited"


def test_audience_counts_exclusions_by_reason(ws: Workspace) -> None:
    add_devices(
        ws,
        [
            {"token": "a1", "tags": ["vip"]},
            {"token": "a2", "tags": ["vip"], "opt_in": "denied"},
            {"token": "a3", "tags": ["vip"], "status": "unregistered"},
            {"token": "w1", "provider": "webpush", "tags": ["vip"]},
            {"token": "w2", "provider": "webpush", "tags": ["vip"], "p256dh": ""},
            {"token": "f1", "provider": "fcm", "tags": ["vip"]},
            {"token": "x1"},
        ],
    )
    save_segment(ws, Segment("vip", {"field": "tag", "op": "has", "value": "vip"}))
    spec = spec_from_dict({**MINIMAL, "audience": {"segment": "vip"}})
    count = count_audience(ws, spec, {ProviderKind.APNS, ProviderKind.WEBPUSH})
    assert count.targeted == 6
    assert count.excluded == {
        "opted_out": 1,
        "unregistered": 1,
        "invalid": 1,
        "no_credential": 1,
    }
    assert count.eligible == 2
    assert sorted(d.token for d in iter_audience(ws, spec, page=2)) == [
        "a1", "a2", "a3", "f1", "w1", "w2",
    ]  # fmt: skip


def test_without_any_credential_no_device_counts_as_sendable(ws: Workspace) -> None:
    """An app with no credential at all: every device that could otherwise receive is
    'no_credential' (the SQL once compared with an empty list, NOT IN (NULL), which is
    never true, and the review said all of them would be sent)."""
    add_devices(
        ws,
        [
            {"token": "a1"},
            {"token": "a2", "opt_in": "denied"},
            {"token": "w1", "provider": "webpush"},
            {"token": "f1", "provider": "fcm"},
        ],
    )
    spec = spec_from_dict(MINIMAL)
    count = count_audience(ws, spec, set())
    assert count.targeted == 4 and count.eligible == 0
    assert count.excluded == {"opted_out": 1, "no_credential": 3}
    # The same rule as the one used for a single loaded device.
    reasons = {d.token: exclusion_reason(d, set()) for d in iter_audience(ws, spec)}
    assert reasons == {"a1": "no_credential", "a2": "opted_out", "f1": "no_credential",
                       "w1": "no_credential"}  # fmt: skip


def test_token_audience_counts_unknown_tokens(ws: Workspace) -> None:
    add_devices(ws, [{"token": "a1"}, {"token": "a2"}])
    spec = spec_from_dict({**MINIMAL, "audience": {"tokens": ["a1", "zz"]}})
    count = count_audience(ws, spec, {ProviderKind.APNS})
    assert (count.targeted, count.unknown_tokens) == (1, 1)


def test_test_devices_audience(ws: Workspace) -> None:
    add_devices(ws, [{"token": "a1", "test": True}, {"token": "a2"}])
    spec = spec_from_dict({**MINIMAL, "audience": {"test_devices": True}})
    assert [d.token for d in iter_audience(ws, spec)] == ["a1"]


def test_campaign_file_example_in_docs_is_valid() -> None:
    text = Path(__file__).parents[2].joinpath("docs/campaign-file.md").read_text()
    block = text.split("```json", 1)[1].split("```", 1)[0]
    spec = spec_from_dict(json.loads(block))
    assert spec.variants and spec.localizations
