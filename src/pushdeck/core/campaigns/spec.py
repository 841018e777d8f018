"""The campaign spec: what to send, to whom, when and how fast, and its JSON form.

A campaign is stored as one row whose ``spec`` column holds the JSON form documented
in ``docs/campaign-file.md`` (the same form ``pushdeck campaigns create --file`` reads).
This module is plain data and validation, below everything that stores, renders or sends
a campaign; the library (storing, editing, copying) is ``campaigns.library``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pushdeck.core.campaigns.hygiene_rules import (
    FrequencyCap,
    QuietHours,
    parse_frequency_cap,
    parse_quiet_hours,
)
from pushdeck.core.common.errors import ConfigError, ValidationError
from pushdeck.core.common.model import Message
from pushdeck.core.messages.json_form import message_from_dict, message_to_dict


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"
    FAILED = "failed"  # stopped by an error (e.g. credentials refused); resumable
    MISSED = "missed"  # its time passed while nothing ran: waits for a decision


#: Statuses in which the spec may still change (nothing has been sent).
EDITABLE = frozenset({CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.MISSED})
#: Statuses from which ``send`` continues (starts or resumes) the campaign.
SENDABLE = frozenset(
    {
        CampaignStatus.DRAFT,
        CampaignStatus.SCHEDULED,
        CampaignStatus.SENDING,
        CampaignStatus.PAUSED,
        CampaignStatus.FAILED,
        CampaignStatus.MISSED,
    }
)


class AudienceKind(StrEnum):
    SEGMENT = "segment"
    TEST = "test_devices"
    TOKENS = "tokens"
    ALL = "all"


@dataclass(frozen=True)
class AudienceSpec:
    kind: AudienceKind
    segment: str = ""
    tokens: tuple[str, ...] = ()


class ScheduleKind(StrEnum):
    NOW = "now"
    AT = "at"  # one UTC instant
    LOCAL = "local"  # a wall-clock time in each device's time zone


@dataclass(frozen=True)
class ScheduleSpec:
    kind: ScheduleKind = ScheduleKind.NOW
    at: datetime | None = None  # UTC, for AT
    local_date: str = ""  # YYYY-MM-DD, for LOCAL
    local_time: str = ""  # HH:MM, for LOCAL
    default_timezone: str = "UTC"  # for devices whose time zone is unknown


@dataclass(frozen=True)
class VariantSpec:
    """One A/B arm: field overrides over the base message, with its own localizations."""

    name: str
    percent: float
    overrides: Mapping[str, Any] = field(default_factory=dict)
    localizations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class CampaignSpec:
    name: str
    app: str
    message: Message
    audience: AudienceSpec
    localizations: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    variants: tuple[VariantSpec, ...] = ()
    control_percent: float = 0.0
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)
    throttle_per_minute: int = 0  # 0 = as fast as the providers allow
    ttl_seconds: int | None = None
    description: str = ""
    #: Locale -> ``base_fingerprint`` of the base message when that localization was last
    #: written (the app keeps it), so a translation of older text is noticed before sending.
    localization_bases: Mapping[str, str] = field(default_factory=dict)
    # Audience hygiene (issue 20): None = the app's default applies, "none" = opted out.
    frequency_cap: FrequencyCap | str | None = None
    quiet_hours: QuietHours | str | None = None
    ab_metric: str = "opens"  # what the A/B verdict compares: "opens" or "conversions"


#: What an A/B test can be judged by (``ab_metric``).
AB_METRICS = ("opens", "conversions")


def base_fingerprint(message: Message) -> str:
    """What a translation is written against: the base message's translatable text."""
    text = "\x1f".join((message.title, message.subtitle, message.body))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stale_localizations(spec: CampaignSpec) -> list[str]:
    """Locales whose translation was written for an older base message (as far as known:
    a localization without a recorded base is not judged)."""
    current = base_fingerprint(spec.message)
    return [
        locale
        for locale in spec.localizations
        if locale in spec.localization_bases and spec.localization_bases[locale] != current
    ]


@dataclass(frozen=True)
class Campaign:
    """A stored campaign: its spec plus where it is in its life."""

    id: int
    spec: CampaignSpec
    status: CampaignStatus
    created_at: str
    updated_at: str
    scheduled_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    error: str = ""

    @property
    def name(self) -> str:
        return self.spec.name


# --------------------------------------------------------------------------- JSON form

_TOP_KEYS = {
    "name",
    "app",
    "message",
    "audience",
    "localizations",
    "variants",
    "control_percent",
    "schedule",
    "throttle_per_minute",
    "ttl_seconds",
    "description",
    "localization_bases",
    "frequency_cap",
    "quiet_hours",
    "ab_metric",
}
_NAME = re.compile(r"[^\x00-\x1f/\\]{1,120}")
_LOCAL_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


def _invalid(message: str, where: str, hint: str = "") -> ValidationError:
    return ValidationError(message, field=where, hint=hint)


def spec_from_dict(doc: Any) -> CampaignSpec:
    """Parse the campaign file form; ValidationError names the exact bad field."""
    if not isinstance(doc, Mapping):
        raise _invalid("A campaign file must hold one JSON object.", "")
    unknown = sorted(set(doc) - _TOP_KEYS)
    if unknown:
        raise _invalid(
            f"{unknown[0]!r} is not a campaign field.",
            unknown[0],
            f"Known fields: {', '.join(sorted(_TOP_KEYS))} (see docs/campaign-file.md).",
        )
    for required in ("name", "app", "audience", "message"):
        if required not in doc:
            raise _invalid(f"The campaign has no {required!r}.", required)
    name = _text(doc["name"], "name")
    if not _NAME.fullmatch(name):
        raise _invalid(f"The campaign name {name!r} is empty, too long or has / \\.", "name")
    ttl = doc.get("ttl_seconds")
    spec = CampaignSpec(
        name=name,
        app=_text(doc["app"], "app"),
        message=message_from_dict(doc["message"], where="message"),
        audience=_audience(doc["audience"]),
        localizations=_localizations(doc.get("localizations", {}), "localizations"),
        variants=_variants(doc.get("variants", [])),
        control_percent=_percent(doc.get("control_percent", 0), "control_percent"),
        schedule=_schedule(doc.get("schedule", "now")),
        throttle_per_minute=_count(doc.get("throttle_per_minute", 0), "throttle_per_minute"),
        ttl_seconds=None if ttl is None else _count(ttl, "ttl_seconds"),
        description=_text(doc.get("description", ""), "description", empty=True),
        localization_bases=_bases(doc.get("localization_bases", {})),
        **_hygiene_fields(doc),
    )
    check_spec(spec)
    return spec


def _bases(doc: Any) -> dict[str, str]:
    where = "localization_bases"
    if not isinstance(doc, Mapping) or not all(isinstance(v, str) for v in doc.values()):
        raise _invalid(f"{where} must map locales to fingerprints (text).", where)
    return {normalize_locale(str(k)): v for k, v in doc.items()}


def spec_to_dict(spec: CampaignSpec) -> dict[str, Any]:
    """The JSON form of ``spec`` (inverse of ``spec_from_dict``)."""
    doc: dict[str, Any] = {
        "name": spec.name,
        "app": spec.app,
        "message": message_to_dict(spec.message),
        "audience": _audience_to_dict(spec.audience),
    }
    if spec.localizations:
        doc["localizations"] = {k: dict(v) for k, v in spec.localizations.items()}
    if spec.localization_bases:
        doc["localization_bases"] = dict(spec.localization_bases)
    if spec.variants:
        doc["variants"] = [_variant_to_dict(v) for v in spec.variants]
    if spec.control_percent:
        doc["control_percent"] = spec.control_percent
    if spec.schedule.kind is not ScheduleKind.NOW:
        doc["schedule"] = _schedule_to_dict(spec.schedule)
    if spec.throttle_per_minute:
        doc["throttle_per_minute"] = spec.throttle_per_minute
    if spec.ttl_seconds is not None:
        doc["ttl_seconds"] = spec.ttl_seconds
    if spec.description:
        doc["description"] = spec.description
    for key in ("frequency_cap", "quiet_hours"):
        rule = getattr(spec, key)
        if rule is not None:
            doc[key] = rule if isinstance(rule, str) else rule.to_doc()
    if spec.ab_metric != "opens":
        doc["ab_metric"] = spec.ab_metric
    return doc


def _hygiene_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """frequency_cap, quiet_hours (absent = the app's default) and ab_metric."""
    fields: dict[str, Any] = {}
    if "frequency_cap" in doc:
        fields["frequency_cap"] = parse_frequency_cap(doc["frequency_cap"])
    if "quiet_hours" in doc:
        fields["quiet_hours"] = parse_quiet_hours(doc["quiet_hours"])
    metric = doc.get("ab_metric", "opens")
    if metric not in AB_METRICS:
        raise _invalid(
            f"ab_metric must be 'opens' or 'conversions', not {metric!r}.",
            "ab_metric",
            "It is what the A/B verdict compares (opened ÷ accepted, or converted ÷ accepted).",
        )
    fields["ab_metric"] = metric
    return fields


def load_spec_file(path: Path | str) -> CampaignSpec:
    """Read a campaign file; errors name the file and the field."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"Cannot read campaign file {path}: {exc.strerror}.") from exc
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).",
            hint="Fix the JSON syntax; docs/campaign-file.md has a complete example.",
        ) from exc
    try:
        return spec_from_dict(doc)
    except ValidationError as exc:
        raise ValidationError(f"{path}: {exc.message}", field=exc.field, hint=exc.hint) from exc


def check_spec(spec: CampaignSpec) -> None:
    """Cross-field checks: variant names unique and percentages summing to 100."""
    if spec.variants:
        names = [v.name for v in spec.variants]
        if len(set(names)) != len(names) or "control" in names:
            raise _invalid(
                "Variant names must be unique and not 'control'.",
                "variants",
                "'control' is reserved for the hold-out group.",
            )
        total = sum(v.percent for v in spec.variants)
        if abs(total - 100.0) > 1e-6:
            raise _invalid(
                f"Variant percentages add up to {total:g}, not 100.",
                "variants",
                "Each variant's percent is its share of the non-hold-out recipients.",
            )
    if spec.control_percent >= 100:
        raise _invalid("control_percent must be below 100.", "control_percent")


def _text(value: Any, where: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise _invalid(f"{where} must be a non-empty string.", where)
    return value


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _invalid(f"{where} must be a whole number ≥ 0, not {value!r}.", where)
    return value


def _percent(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise _invalid(f"{where} must be a number from 0 to 100, not {value!r}.", where)
    return float(value)


def _audience(doc: Any) -> AudienceSpec:
    where = "audience"
    if not isinstance(doc, Mapping) or len(doc) != 1:
        raise _invalid(
            "audience must be one of {'segment': NAME}, {'all': true}, "
            "{'test_devices': true} or {'tokens': [...]}.",
            where,
        )
    ((key, value),) = doc.items()
    if key == "segment":
        return AudienceSpec(AudienceKind.SEGMENT, segment=_text(value, "audience.segment"))
    if key in ("all", "test_devices") and value is True:
        return AudienceSpec(AudienceKind(key))
    if key == "tokens" and isinstance(value, list) and value:
        return AudienceSpec(AudienceKind.TOKENS, tokens=tuple(_tokens(value)))
    raise _invalid(f"audience.{key} = {value!r} is not a valid audience.", f"{where}.{key}")


def _tokens(values: list[Any]) -> list[str]:
    for index, token in enumerate(values):
        _text(token, f"audience.tokens[{index}]")
    return list(values)


def _audience_to_dict(audience: AudienceSpec) -> dict[str, Any]:
    if audience.kind is AudienceKind.SEGMENT:
        return {"segment": audience.segment}
    if audience.kind is AudienceKind.TOKENS:
        return {"tokens": list(audience.tokens)}
    return {audience.kind.value: True}


def _localizations(doc: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(doc, Mapping):
        raise _invalid(f"{where} must map locales (e.g. 'pt-BR') to message fields.", where)
    out: dict[str, dict[str, Any]] = {}
    for locale, fields in doc.items():
        # Validating through message_from_dict catches typos in field names early.
        message_from_dict(fields, where=f"{where}.{locale}")
        out[normalize_locale(locale)] = dict(fields)
    return out


def normalize_locale(locale: str) -> str:
    """'pt_br' and 'PT-BR' both become 'pt-BR' (language lower, region upper)."""
    parts = locale.replace("_", "-").split("-")
    head = parts[0].lower()
    rest = [p.upper() if len(p) == 2 else p for p in parts[1:]]
    return "-".join([head, *rest])


def _variants(doc: Any) -> tuple[VariantSpec, ...]:
    if not isinstance(doc, list):
        raise _invalid("variants must be a list of {name, percent, message?}.", "variants")
    variants = []
    for index, item in enumerate(doc):
        where = f"variants[{index}]"
        if not isinstance(item, Mapping):
            raise _invalid(f"{where} must be an object.", where)
        overrides = item.get("message", {})
        message_from_dict(overrides, where=f"{where}.message")
        variants.append(
            VariantSpec(
                name=_text(item.get("name"), f"{where}.name"),
                percent=_percent(item.get("percent"), f"{where}.percent"),
                overrides=dict(overrides),
                localizations=_localizations(
                    item.get("localizations", {}), f"{where}.localizations"
                ),
            )
        )
    return tuple(variants)


def _variant_to_dict(variant: VariantSpec) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": variant.name, "percent": variant.percent}
    if variant.overrides:
        doc["message"] = dict(variant.overrides)
    if variant.localizations:
        doc["localizations"] = {k: dict(v) for k, v in variant.localizations.items()}
    return doc


def _schedule(doc: Any) -> ScheduleSpec:
    if doc in ("now", None):
        return ScheduleSpec()
    if not isinstance(doc, Mapping):
        raise _invalid("schedule must be 'now', {'at': ...} or {'local_time': ...}.", "schedule")
    if "at" in doc:
        return ScheduleSpec(ScheduleKind.AT, at=parse_utc(doc["at"], "schedule.at"))
    if "local_time" in doc:
        local_time = _text(doc["local_time"], "schedule.local_time")
        if not _LOCAL_TIME.fullmatch(local_time):
            raise _invalid("schedule.local_time must be HH:MM (24 h).", "schedule.local_time")
        local_date = _text(doc.get("date", ""), "schedule.date")
        try:
            datetime.strptime(local_date, "%Y-%m-%d")
        except ValueError:
            raise _invalid("schedule.date must be YYYY-MM-DD.", "schedule.date") from None
        default_tz = _text(doc.get("default_timezone", "UTC"), "schedule.default_timezone")
        return ScheduleSpec(ScheduleKind.LOCAL, None, local_date, local_time, default_tz)
    raise _invalid("schedule needs 'at' or 'local_time' (with 'date').", "schedule")


def parse_utc(value: Any, where: str) -> datetime:
    """An ISO 8601 instant with an explicit offset ('Z' or +hh:mm), as UTC."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(f"{where} = {value!r} is not an ISO 8601 time.", where) from None
    if moment.tzinfo is None:
        raise _invalid(
            f"{where} = {value!r} has no time zone.",
            where,
            "Write it in UTC with a Z, e.g. 2026-05-01T09:00:00Z.",
        )
    return moment.astimezone(UTC)


def _schedule_to_dict(schedule: ScheduleSpec) -> dict[str, Any]:
    if schedule.kind is ScheduleKind.AT and schedule.at is not None:
        return {"at": format_utc(schedule.at)}
    return {
        "local_time": schedule.local_time,
        "date": schedule.local_date,
        "default_timezone": schedule.default_timezone,
    }


def format_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_utc() -> datetime:
    return datetime.now(UTC)
