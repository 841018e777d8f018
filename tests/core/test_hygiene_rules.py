"""Frequency caps and quiet hours as data: the campaign-file and CLI forms, and when a
device's quiet hours end, in its own time zone, across midnight and daylight saving."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from pushdeck.core.campaigns.hygiene_rules import (
    OFF,
    AppRules,
    FrequencyCap,
    QuietAction,
    QuietHours,
    app_rules_from_doc,
    effective_rules,
    parse_cap_option,
    parse_frequency_cap,
    parse_quiet_hours,
    parse_quiet_option,
    parse_window,
)
from pushdeck.core.campaigns.spec import spec_from_dict, spec_to_dict
from pushdeck.core.common.errors import ValidationError

NY = ZoneInfo("America/New_York")
LISBON = ZoneInfo("Europe/Lisbon")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def quiet(start: str, end: str, then: str = "hold") -> QuietHours:
    rule = parse_quiet_hours({"from": start, "to": end, "then": then})
    assert isinstance(rule, QuietHours)
    return rule


# --------------------------------------------------------------------------- forms


def test_frequency_cap_forms_and_reason() -> None:
    cap = parse_frequency_cap({"max": 2, "within": "24h"})
    assert cap == FrequencyCap(2, parse_window("24h", "w"))
    assert isinstance(cap, FrequencyCap)
    assert cap.reason == "frequency cap (2 in 24 h)"
    assert cap.within.delta == timedelta(hours=24)
    week = parse_cap_option("5/7d")
    assert isinstance(week, FrequencyCap) and week.within.delta == timedelta(days=7)
    assert week.reason == "frequency cap (5 in 7 d)" and week.option == "5/7d"
    assert parse_frequency_cap("none") == OFF and parse_cap_option("NONE") == OFF


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"max": 0, "within": "24h"}, "frequency_cap.max"),
        ({"max": True, "within": "24h"}, "frequency_cap.max"),
        ({"max": 2, "within": "24 hours"}, "frequency_cap.within"),
        ({"max": 2, "within": "0h"}, "frequency_cap.within"),
        ({"max": 2, "within": "400d"}, "frequency_cap.within"),
        ({"max": 2}, "frequency_cap.within"),
        ({"max": 2, "within": "24h", "per": "device"}, "frequency_cap.per"),
        ("off", "frequency_cap"),
        (2, "frequency_cap"),
    ],
)
def test_bad_frequency_caps_name_the_field(doc: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_frequency_cap(doc)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"from": "21:00", "to": "21:00"}, "quiet_hours.to"),
        ({"from": "9pm", "to": "08:00"}, "quiet_hours.from"),
        ({"from": "21:00", "to": "24:00"}, "quiet_hours.to"),
        ({"from": "21:00", "to": "08:00", "then": "drop"}, "quiet_hours.then"),
        ({"from": "21:00", "to": "08:00", "zone": "UTC"}, "quiet_hours.zone"),
        ("never", "quiet_hours"),
    ],
)
def test_bad_quiet_hours_name_the_field(doc: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_quiet_hours(doc)
    assert caught.value.field == field


def test_quiet_hours_forms() -> None:
    rule = quiet("21:00", "08:00")
    assert rule.then is QuietAction.HOLD and rule.reason == "quiet hours (21:00–08:00)"
    assert parse_quiet_hours({"from": "21:00", "to": "08:00"}) == rule  # hold by default
    assert parse_quiet_option("21:00-08:00") == rule
    assert parse_quiet_option("22:30-07:00/skip") == quiet("22:30", "07:00", "skip")
    assert parse_quiet_option("none") == OFF
    with pytest.raises(ValidationError):
        parse_quiet_option("21-8")


def test_campaign_file_fields_round_trip_and_override_the_app() -> None:
    base = {"name": "C", "app": "shop", "audience": {"all": True}, "message": {"title": "t"}}
    doc = {
        **base,
        "frequency_cap": {"max": 2, "within": "24h"},
        "quiet_hours": {"from": "21:00", "to": "08:00", "then": "skip"},
        "ab_metric": "conversions",
    }
    spec = spec_from_dict(doc)
    assert spec_from_dict(spec_to_dict(spec)) == spec
    assert spec_to_dict(spec)["quiet_hours"] == doc["quiet_hours"]
    app = AppRules(
        frequency_cap=FrequencyCap(5, parse_window("7d", "w")),
        quiet_hours=quiet("22:00", "07:00"),
        timezone="Europe/Lisbon",
    )
    own = effective_rules(spec.frequency_cap, spec.quiet_hours, app)
    assert own.cap == spec.frequency_cap and own.cap_source == "campaign"
    assert own.quiet == spec.quiet_hours and own.zone.key == "Europe/Lisbon"
    inherited = spec_from_dict(base)
    rules = effective_rules(inherited.frequency_cap, inherited.quiet_hours, app)
    assert rules.cap == app.frequency_cap and rules.cap_source == "app"
    assert rules.quiet == app.quiet_hours
    opted_out = spec_from_dict({**base, "frequency_cap": "none", "quiet_hours": "none"})
    assert spec_to_dict(opted_out)["frequency_cap"] == "none"
    none = effective_rules(opted_out.frequency_cap, opted_out.quiet_hours, app)
    assert none.cap is None and none.quiet is None and not none.active
    with pytest.raises(ValidationError) as caught:
        spec_from_dict({**base, "ab_metric": "revenue"})
    assert caught.value.field == "ab_metric"


def test_app_rules_document_checks_the_time_zone() -> None:
    rules = app_rules_from_doc({"timezone": "Asia/Kolkata", "attribution_window": "3d"})
    assert rules.zone.key == "Asia/Kolkata" and rules.window == timedelta(days=3)
    assert AppRules().zone.key == "UTC" and AppRules().window == timedelta(hours=24)
    with pytest.raises(ValidationError) as caught:
        app_rules_from_doc({"timezone": "Mars/Olympus"})
    assert caught.value.field == "timezone"


# --------------------------------------------------------------------------- when quiet hours end


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-05-01 19:59", None),  # 20:59 in Lisbon (WEST, +1): not yet
        ("2026-05-01 20:00", "2026-05-02 07:00"),  # 21:00 Lisbon: until 08:00 tomorrow
        ("2026-05-01 23:30", "2026-05-02 07:00"),  # after midnight there
        ("2026-05-02 06:59", "2026-05-02 07:00"),  # 07:59 Lisbon
        ("2026-05-02 07:00", None),  # 08:00 Lisbon: over
        ("2026-05-02 12:00", None),
    ],
)
def test_a_window_across_midnight_in_the_device_zone(moment: str, expected: str | None) -> None:
    end = quiet("21:00", "08:00").ends_after(utc(moment), LISBON)
    assert end == (utc(expected) if expected else None)


def test_a_window_within_one_day() -> None:
    rule = quiet("12:00", "14:00")
    assert rule.ends_after(utc("2026-05-01 12:30"), ZoneInfo("UTC")) == utc("2026-05-01 14:00")
    assert rule.ends_after(utc("2026-05-01 11:59"), ZoneInfo("UTC")) is None
    assert rule.contains(time(12, 0)) and not rule.contains(time(14, 0))


def test_the_night_clocks_spring_forward_is_an_hour_shorter() -> None:
    # New York, 2026-03-08: 02:00 EST becomes 03:00 EDT. 23:00 EST is 04:00 UTC; 06:00
    # EDT is 10:00 UTC: seven hours on the wall clock, six in fact.
    end = quiet("22:00", "06:00").ends_after(utc("2026-03-08 04:00"), NY)
    assert end == utc("2026-03-08 10:00")
    assert end is not None and end.astimezone(NY).hour == 6


def test_the_night_clocks_fall_back_is_an_hour_longer() -> None:
    # New York, 2026-11-01: 02:00 EDT becomes 01:00 EST; 06:00 EST is 11:00 UTC.
    end = quiet("22:00", "06:00").ends_after(utc("2026-11-01 03:00"), NY)
    assert end == utc("2026-11-01 11:00")


def test_an_end_inside_the_spring_gap_is_the_jump() -> None:
    # 02:30 does not exist on 2026-03-08 in New York: the clock reads 02:30 or later
    # from 03:00 EDT (07:00 UTC), the moment of the jump.
    rule = quiet("00:00", "02:30")
    assert rule.ends_after(utc("2026-03-08 06:00"), NY) == utc("2026-03-08 07:00")
    assert rule.ends_after(utc("2026-03-08 07:00"), NY) is None


def test_an_end_that_happens_twice_is_the_next_one() -> None:
    # 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST) on 2026-11-01.
    rule = quiet("00:00", "01:30")
    assert rule.ends_after(utc("2026-11-01 04:45"), NY) == utc("2026-11-01 05:30")
    # 01:15 EST, after the clocks went back: quiet again, until the second 01:30.
    assert rule.ends_after(utc("2026-11-01 06:15"), NY) == utc("2026-11-01 06:30")


@pytest.mark.parametrize(
    ("zone", "moment", "expected"),
    [
        ("Asia/Kolkata", "2026-05-01 16:00", "2026-05-02 02:30"),  # 21:30 IST (+5:30)
        ("Pacific/Kiritimati", "2026-05-01 08:00", "2026-05-01 18:00"),  # 22:00 (+14)
        ("Pacific/Pago_Pago", "2026-05-02 08:00", "2026-05-02 19:00"),  # 21:00 (-11)
    ],
)
def test_far_zones_and_half_hour_offsets(zone: str, moment: str, expected: str) -> None:
    end = quiet("21:00", "08:00").ends_after(utc(moment), ZoneInfo(zone))
    assert end == utc(expected)
