"""Audience hygiene rules, as data: frequency caps, quiet hours, the app's defaults.

Pure parsing and time arithmetic (no workspace): ``hygiene`` applies these rules to a
campaign's journal at send time, ``send_review`` predicts them, ``campaigns`` stores a
campaign's own overrides in its spec. The forms are the campaign file's
(docs/campaign-file.md)::

    "frequency_cap": {"max": 2, "within": "24h"}      or "none"
    "quiet_hours": {"from": "21:00", "to": "08:00", "then": "hold"}   or "none"

and, on the command line, ``2/24h`` and ``21:00-08:00`` / ``21:00-08:00/skip``.

Quiet hours are wall-clock times in the device's own time zone, so a window may cross
midnight and a day may be 23 or 25 hours long. The end of a window that falls in a
daylight-saving gap (02:30 on the night clocks jump from 02:00 to 03:00) is the jump
itself; an end that happens twice (clocks going back) is its first occurrence still
ahead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pushdeck.core.common.errors import ValidationError

#: A campaign field set to this opts out of the app's default (transactional messages).
OFF = "none"
DEFAULT_ATTRIBUTION_WINDOW = timedelta(hours=24)
#: Longest cap or attribution window accepted: longer would count a different season.
MAX_WINDOW = timedelta(days=365)

_DURATION = re.compile(r"\s*(\d{1,4})\s*([hdw])\s*", re.IGNORECASE)
_UNIT = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def _invalid(message: str, where: str, hint: str = "") -> ValidationError:
    return ValidationError(message, field=where, hint=hint)


# --------------------------------------------------------------------------- durations


@dataclass(frozen=True)
class Window:
    """A duration as written ("24h", "7d", "2w"), kept as written for messages."""

    count: int
    unit: str  # "h", "d" or "w"

    @property
    def delta(self) -> timedelta:
        return self.count * _UNIT[self.unit]

    @property
    def text(self) -> str:
        """'24h' (the file form)."""
        return f"{self.count}{self.unit}"

    @property
    def words(self) -> str:
        """'24 h' (the form in reasons and reports)."""
        return f"{self.count} {self.unit}"


def parse_window(value: Any, where: str) -> Window:
    """'24h', '7d' or '2w' (hours, days, weeks); errors name ``where``."""
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _invalid(
            f"{where} = {value!r} is not a duration.",
            where,
            "Write a whole number of hours, days or weeks: '24h', '7d', '2w'.",
        )
    window = Window(int(match[1]), match[2].lower())
    if window.count == 0 or window.delta > MAX_WINDOW:
        raise _invalid(f"{where} = {value!r} must be more than 0 and at most 365 days.", where)
    return window


# --------------------------------------------------------------------------- frequency cap


@dataclass(frozen=True)
class FrequencyCap:
    """At most ``max`` notifications per device within ``within`` (every campaign's)."""

    max: int
    within: Window

    @property
    def reason(self) -> str:
        """The exclusion reason recorded in the journal and shown in reports."""
        return f"frequency cap ({self.max} in {self.within.words})"

    def to_doc(self) -> dict[str, Any]:
        return {"max": self.max, "within": self.within.text}

    @property
    def option(self) -> str:
        """The command-line form, '2/24h'."""
        return f"{self.max}/{self.within.text}"


def parse_frequency_cap(value: Any, where: str = "frequency_cap") -> FrequencyCap | str:
    """``{"max": N, "within": "24h"}`` or ``"none"`` (returned as ``OFF``)."""
    if value == OFF:
        return OFF
    if not isinstance(value, Mapping):
        raise _invalid(
            f"{where} must be {{'max': N, 'within': '24h'}} or 'none'.",
            where,
            "'none' sends regardless of the app's cap (for transactional messages).",
        )
    unknown = sorted(set(value) - {"max", "within"})
    if unknown:
        bad = f"{where}.{unknown[0]}"
        raise _invalid(f"{bad} is not a frequency cap field (max, within).", bad)
    most = value.get("max")
    if isinstance(most, bool) or not isinstance(most, int) or not 1 <= most <= 1000:
        raise _invalid(
            f"{where}.max must be a whole number from 1 to 1000, not {most!r}.", f"{where}.max"
        )
    return FrequencyCap(most, parse_window(value.get("within"), f"{where}.within"))


def parse_cap_option(text: str) -> FrequencyCap | str:
    """The command-line form: '2/24h' (2 per 24 hours), '5/7d', or 'none'."""
    if text.strip().lower() == OFF:
        return OFF
    most, _, within = text.partition("/")
    if not most.strip().isdigit() or not within:
        raise _invalid(
            f"--frequency-cap {text!r} is not N/WINDOW.",
            "frequency_cap",
            "For example 2/24h (at most 2 per 24 hours), 5/7d, or none.",
        )
    return parse_frequency_cap({"max": int(most), "within": within}, "--frequency-cap")


# --------------------------------------------------------------------------- quiet hours


class QuietAction(StrEnum):
    HOLD = "hold"  # send when the device's quiet hours end
    SKIP = "skip"  # do not send to it at all (excluded, with the reason)


@dataclass(frozen=True)
class QuietHours:
    """A daily wall-clock window, in each device's time zone, when nothing is sent."""

    start: time
    end: time
    then: QuietAction = QuietAction.HOLD

    @property
    def span(self) -> str:
        return f"{self.start:%H:%M}–{self.end:%H:%M}"

    @property
    def reason(self) -> str:
        """The exclusion reason of a skipped device."""
        return f"quiet hours ({self.span})"

    def to_doc(self) -> dict[str, Any]:
        return {"from": f"{self.start:%H:%M}", "to": f"{self.end:%H:%M}", "then": self.then.value}

    @property
    def option(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}/{self.then.value}"

    def contains(self, wall: time) -> bool:
        """True when the wall-clock time ``wall`` is inside the window."""
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end  # the window crosses midnight

    def ends_after(self, moment: datetime, zone: ZoneInfo) -> datetime | None:
        """When the window containing ``moment`` ends (UTC); None when ``moment`` is
        outside the device's quiet hours."""
        local = moment.astimezone(zone)
        wall = local.time().replace(tzinfo=None)
        if not self.contains(wall):
            return None
        day = local.date()
        if self.start > self.end and wall >= self.start:
            day += timedelta(days=1)  # the evening part: the window ends tomorrow morning
        return _next_wall_clock(day, self.end, zone, after=moment)


def _clock(value: Any, where: str) -> time:
    match = _CLOCK.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _invalid(f"{where} = {value!r} is not a time of day.", where, "Write HH:MM (24 h).")
    return time(int(match[1]), int(match[2]))


def parse_quiet_hours(value: Any, where: str = "quiet_hours") -> QuietHours | str:
    """``{"from": "21:00", "to": "08:00", "then": "hold" | "skip"}`` or ``"none"``."""
    if value == OFF:
        return OFF
    if not isinstance(value, Mapping):
        raise _invalid(
            f"{where} must be {{'from': 'HH:MM', 'to': 'HH:MM', 'then': 'hold'|'skip'}} or 'none'.",
            where,
        )
    unknown = sorted(set(value) - {"from", "to", "then"})
    if unknown:
        bad = f"{where}.{unknown[0]}"
        raise _invalid(f"{bad} is not a quiet hours field (from, to, then).", bad)
    start = _clock(value.get("from"), f"{where}.from")
    end = _clock(value.get("to"), f"{where}.to")
    if start == end:
        raise _invalid(
            f"{where} starts and ends at {start:%H:%M}: the window is empty.",
            f"{where}.to",
            "A window may cross midnight: from 21:00 to 08:00.",
        )
    then = value.get("then", QuietAction.HOLD.value)
    if then not in {a.value for a in QuietAction}:
        raise _invalid(
            f"{where}.then must be 'hold' (send when quiet hours end) or 'skip', not {then!r}.",
            f"{where}.then",
        )
    return QuietHours(start, end, QuietAction(then))


def parse_quiet_option(text: str) -> QuietHours | str:
    """The command-line form: '21:00-08:00' (hold), '21:00-08:00/skip', or 'none'."""
    if text.strip().lower() == OFF:
        return OFF
    span, _, then = text.strip().partition("/")
    start, _, end = span.partition("-")
    doc = {"from": start.strip(), "to": end.strip(), "then": then.strip() or "hold"}
    return parse_quiet_hours(doc, "--quiet-hours")


def _next_wall_clock(day: date, wall: time, zone: ZoneInfo, *, after: datetime) -> datetime:
    """The first instant after ``after`` at which the clock in ``zone`` shows ``wall`` on
    ``day`` (or has just jumped past it, in a daylight-saving gap), in UTC."""
    naive = datetime.combine(day, wall)
    candidates = sorted(naive.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    exists = candidates[0].astimezone(zone).replace(tzinfo=None) == naive
    if not exists:  # a gap: find the jump between the two readings
        return _jump_past(naive, zone, candidates[0], candidates[1])
    later = [c for c in candidates if c > after]
    return later[0] if later else candidates[-1]


def _jump_past(naive: datetime, zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first second at which the local clock reads ``naive`` or later."""
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)


# --------------------------------------------------------------------------- time zones


def zone_or(name: str, fallback: ZoneInfo) -> ZoneInfo:
    """The IANA zone ``name``; ``fallback`` when it is empty or unknown."""
    if not name:
        return fallback
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


def parse_zone(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{where} must be an IANA time zone name like 'Europe/Lisbon'.", where)
    if not value:
        return ""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _invalid(
            f"{where} = {value!r} is not an IANA time zone name.",
            where,
            "For example Europe/Lisbon, America/New_York, Asia/Tokyo or UTC.",
        ) from None
    return value


# --------------------------------------------------------------------------- app defaults


@dataclass(frozen=True)
class AppRules:
    """An app's defaults; a campaign's own fields override the cap and quiet hours."""

    frequency_cap: FrequencyCap | None = None
    quiet_hours: QuietHours | None = None
    timezone: str = ""  # for devices with no time zone ('' = UTC)
    attribution_window: Window | None = None  # None = 24 h

    @property
    def zone(self) -> ZoneInfo:
        return zone_or(self.timezone, ZoneInfo("UTC"))

    @property
    def window(self) -> timedelta:
        return (
            self.attribution_window.delta
            if self.attribution_window
            else (DEFAULT_ATTRIBUTION_WINDOW)
        )

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self.frequency_cap:
            doc["frequency_cap"] = self.frequency_cap.to_doc()
        if self.quiet_hours:
            doc["quiet_hours"] = self.quiet_hours.to_doc()
        if self.timezone:
            doc["timezone"] = self.timezone
        if self.attribution_window:
            doc["attribution_window"] = self.attribution_window.text
        return doc


_APP_KEYS = {"frequency_cap", "quiet_hours", "timezone", "attribution_window"}


def app_rules_from_doc(doc: Any) -> AppRules:
    """The stored form (the same shapes as the campaign file's fields)."""
    if not isinstance(doc, Mapping) or set(doc) - _APP_KEYS:
        raise _invalid("The app's rules are not an object of known fields.", "rules")
    cap = parse_frequency_cap(doc["frequency_cap"]) if "frequency_cap" in doc else None
    quiet = parse_quiet_hours(doc["quiet_hours"]) if "quiet_hours" in doc else None
    window = doc.get("attribution_window")
    return AppRules(
        frequency_cap=cap if isinstance(cap, FrequencyCap) else None,
        quiet_hours=quiet if isinstance(quiet, QuietHours) else None,
        timezone=parse_zone(doc.get("timezone", ""), "timezone"),
        attribution_window=None if window is None else parse_window(window, "attribution_window"),
    )


# --------------------------------------------------------------------------- effective rules

Source = Literal["campaign", "app", ""]


@dataclass(frozen=True)
class Rules:
    """What applies to one campaign: its own fields, else the app's defaults."""

    cap: FrequencyCap | None
    cap_source: Source
    quiet: QuietHours | None
    quiet_source: Source
    zone: ZoneInfo  # for devices with no (or an unknown) time zone

    @property
    def active(self) -> bool:
        return self.cap is not None or self.quiet is not None

    def describe(self) -> list[str]:
        """In words, for the review: which rule applies and where it comes from."""
        lines = []
        if self.cap:
            cap = self.cap
            lines.append(
                f"Frequency cap: at most {cap.max} in {cap.within.words} per device, "
                f"every campaign counted ({_from(self.cap_source)}); test devices are exempt."
            )
        if self.quiet:
            quiet = self.quiet
            action = "held until they end" if quiet.then is QuietAction.HOLD else "skipped"
            lines.append(
                f"Quiet hours {quiet.span} in each device's time zone "
                f"({_from(self.quiet_source)}): devices inside them are {action}; devices "
                f"with no time zone use {self.zone.key}; test devices are exempt."
            )
        return lines


def _from(source: Source) -> str:
    return "this campaign" if source == "campaign" else "the app's default"


def effective_rules(
    cap: FrequencyCap | str | None, quiet: QuietHours | str | None, app: AppRules
) -> Rules:
    """A campaign field (a rule, ``OFF``, or None = not set) over the app's default."""
    chosen_cap, cap_source = _pick(cap, app.frequency_cap)
    chosen_quiet, quiet_source = _pick(quiet, app.quiet_hours)
    assert chosen_cap is None or isinstance(chosen_cap, FrequencyCap)
    assert chosen_quiet is None or isinstance(chosen_quiet, QuietHours)
    return Rules(chosen_cap, cap_source, chosen_quiet, quiet_source, app.zone)


def _pick(own: Any, default: Any) -> tuple[Any, Source]:
    if own == OFF:
        return None, ""
    if own is not None:
        return own, "campaign"
    return default, "app" if default is not None else ""
