"""Campaigns: the spec (what to send, to whom, when, how fast) and its storage.

A campaign is stored as one row whose ``spec`` column holds the JSON form documented
in ``docs/campaign-file.md`` (the same form ``pushdeck campaigns create --file`` reads).
Drafts and scheduled campaigns are editable; once sending has started a campaign is
immutable, and ``duplicate_campaign`` makes an editable copy.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pushdeck.core.errors import ConfigError, PushdeckError, ValidationError
from pushdeck.core.hygiene_rules import (
    FrequencyCap,
    QuietHours,
    parse_frequency_cap,
    parse_quiet_hours,
)
from pushdeck.core.messages_json import message_from_dict, message_to_dict
from pushdeck.core.model import Message
from pushdeck.core.store.apps import get_app
from pushdeck.core.store.workspace import Workspace, damaged_row, utcnow
from pushdeck.core.untrusted import MAX_PROVIDER_TEXT, provider_text


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


# --------------------------------------------------------------------------- storage


def _row_to_campaign(row: sqlite3.Row) -> Campaign:
    return Campaign(
        id=row["id"],
        spec=_stored_spec(row),
        status=_stored_status(row["status"], row["name"], row["id"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        scheduled_at=row["scheduled_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        error=row["error"],
    )


def _stored_spec(row: sqlite3.Row) -> CampaignSpec:
    """The spec column, or an error naming the campaign (never a bare JSONDecodeError)."""
    what = f"campaign {row['name']!r}"
    try:
        return spec_from_dict(json.loads(row["spec"]))
    except (ValueError, PushdeckError) as exc:  # not JSON, or JSON that is no campaign
        problem = getattr(exc, "message", None) or str(exc)
        raise damaged_row(
            what, "campaigns", row["id"], f"its spec is not valid ({problem})"
        ) from exc
    except TypeError as exc:  # not text at all (a number or a blob)
        raise damaged_row(what, "campaigns", row["id"], f"its spec is not text ({exc})") from exc


def _stored_status(value: object, name: str, row_id: object) -> CampaignStatus:
    try:
        return CampaignStatus(str(value))
    except ValueError:
        known = ", ".join(s.value for s in CampaignStatus)
        raise damaged_row(
            f"campaign {name!r}",
            "campaigns",
            row_id,
            f"its status {value!r} is not one this Pushdeck knows ({known})",
        ) from None


def _first_due(spec: CampaignSpec) -> str | None:
    # Imported lazily: scheduling imports this module for the spec types.
    from pushdeck.core.scheduling import first_due_time

    due = first_due_time(spec.schedule)
    return format_utc(due) if due else None


def create_campaign(ws: Workspace, spec: CampaignSpec) -> Campaign:
    """Store a new campaign: 'scheduled' when it has a time, else 'draft'."""
    get_app(ws, spec.app)  # a clear error for an unknown app
    _check_audience_exists(ws, spec)
    _check_templates(spec)
    status = (
        CampaignStatus.DRAFT if spec.schedule.kind is ScheduleKind.NOW else CampaignStatus.SCHEDULED
    )
    now = utcnow()
    try:
        with ws.transaction() as conn:
            conn.execute(
                "INSERT INTO campaigns (name, app_id, status, spec, created_at, updated_at,"
                " scheduled_at) VALUES (?, (SELECT id FROM apps WHERE name = ?), ?, ?, ?, ?, ?)",
                (spec.name, spec.app, str(status), _dump(spec), now, now, _first_due(spec)),
            )
    except sqlite3.IntegrityError:
        raise ConfigError(
            f"A campaign named {spec.name!r} already exists.",
            hint="Choose another name, or duplicate the existing campaign to change it.",
        ) from None
    return get_campaign(ws, spec.name)


def _check_audience_exists(ws: Workspace, spec: CampaignSpec) -> None:
    if spec.audience.kind is AudienceKind.SEGMENT:
        from pushdeck.core.store.segments import get_segment

        get_segment(ws, spec.audience.segment)


def _check_templates(spec: CampaignSpec) -> None:
    """Every template must render for any recipient: refuse it when it is saved, not
    per device at send time. Imported lazily: templating imports this module."""
    from pushdeck.core.templating import require_valid_templates

    require_valid_templates(spec)


def _dump(spec: CampaignSpec) -> str:
    return json.dumps(spec_to_dict(spec), ensure_ascii=False, sort_keys=True)


def get_campaign(ws: Workspace, name: str) -> Campaign:
    rows = ws.query("SELECT * FROM campaigns WHERE name = ?", (name,))
    if not rows:
        known = ", ".join(ws_names(ws)[:10]) or "none yet"
        raise ConfigError(
            f"There is no campaign named {name!r} (campaigns: {known}).",
            hint="Create one with 'pushdeck campaigns create --file campaign.json'.",
        )
    return _row_to_campaign(rows[0])


def get_campaign_by_id(ws: Workspace, campaign_id: int) -> Campaign:
    rows = ws.query("SELECT * FROM campaigns WHERE id = ?", (campaign_id,))
    if not rows:
        raise ConfigError(f"There is no campaign with id {campaign_id}.")
    return _row_to_campaign(rows[0])


def ws_names(ws: Workspace) -> list[str]:
    return [r[0] for r in ws.query("SELECT name FROM campaigns ORDER BY created_at DESC, id DESC")]


def list_campaigns(ws: Workspace, *, status: CampaignStatus | None = None) -> list[Campaign]:
    """All campaigns, newest first, optionally only those with ``status``."""
    sql = "SELECT * FROM campaigns"
    params: tuple[Any, ...] = ()
    if status is not None:
        sql += " WHERE status = ?"
        params = (str(status),)
    return [_row_to_campaign(r) for r in ws.query(sql + " ORDER BY id DESC", params)]


def update_campaign(ws: Workspace, name: str, spec: CampaignSpec) -> Campaign:
    """Replace the spec of an editable campaign (renaming is allowed)."""
    current = get_campaign(ws, name)
    # A scheduled campaign may already have sent part of its audience (a local-time
    # schedule's earlier zones, or devices held for their quiet hours): it is history too.
    if current.status not in EDITABLE or current.started_at is not None:
        raise ConfigError(
            f"Campaign {name!r} is {current.status}"
            f"{' and has started sending' if current.started_at else ''}; "
            "sent campaigns cannot be changed.",
            hint=f"Duplicate it ('pushdeck campaigns duplicate {name} NEW') and edit the copy.",
        )
    check_spec(spec)
    get_app(ws, spec.app)
    _check_audience_exists(ws, spec)
    _check_templates(spec)
    try:
        with ws.transaction() as conn:
            conn.execute(
                "UPDATE campaigns SET name = ?, app_id = (SELECT id FROM apps WHERE name = ?),"
                " spec = ?, updated_at = ?, scheduled_at = ?, status = ? WHERE id = ?",
                (
                    spec.name,
                    spec.app,
                    _dump(spec),
                    utcnow(),
                    _first_due(spec),
                    "draft" if spec.schedule.kind is ScheduleKind.NOW else "scheduled",
                    current.id,
                ),
            )
    except sqlite3.IntegrityError:
        raise ConfigError(f"A campaign named {spec.name!r} already exists.") from None
    return get_campaign(ws, spec.name)


def duplicate_campaign(ws: Workspace, name: str, new_name: str) -> Campaign:
    """An editable copy of any campaign (the way to change a sent one)."""
    source = get_campaign(ws, name)
    spec = replace(source.spec, name=new_name, schedule=ScheduleSpec())
    return create_campaign(ws, spec)


def delete_campaign(ws: Workspace, name: str) -> None:
    """Delete a campaign that never started (a sent one is history and stays)."""
    current = get_campaign(ws, name)
    if current.status not in EDITABLE or current.started_at is not None:
        raise ConfigError(
            f"Campaign {name!r} is {current.status}"
            f"{' and has started sending' if current.started_at else ''}; it cannot be deleted."
        )
    with ws.transaction() as conn:
        conn.execute("DELETE FROM campaigns WHERE id = ?", (current.id,))


def set_status(
    ws: Workspace,
    name: str,
    status: CampaignStatus,
    *,
    error: str | None = None,
    started: bool = False,
    finished: bool = False,
) -> None:
    """Record a status change (and optionally the start/finish time and error)."""
    sets = ["status = ?", "updated_at = ?"]
    now = utcnow()
    params: list[Any] = [str(status), now]
    if error is not None:
        sets.append("error = ?")
        params.append(provider_text(error, 4 * MAX_PROVIDER_TEXT))  # may quote a provider
    if started:
        sets.append("started_at = coalesce(started_at, ?)")
        params.append(now)
    if finished:
        sets.append("finished_at = ?")
        params.append(now)
    with ws.transaction() as conn:
        conn.execute(f"UPDATE campaigns SET {', '.join(sets)} WHERE name = ?", (*params, name))


def current_status(ws: Workspace, campaign_id: int) -> CampaignStatus:
    """The status as stored now (another process may have paused or cancelled it)."""
    row = ws.query("SELECT name, status FROM campaigns WHERE id = ?", (campaign_id,))
    if not row:
        raise ConfigError(f"There is no campaign with id {campaign_id}.")
    return _stored_status(row[0]["status"], row[0]["name"], campaign_id)


def now_utc() -> datetime:
    return datetime.now(UTC)
