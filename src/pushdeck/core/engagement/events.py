"""Engagement events: delivered, opened, action pressed, dismissed (and converted).

Three ways in, one validation: ``import_events_file`` (CSV / NDJSON), the local
collector (``record_events`` from its own thread and connection), and the sandbox's
simulation (``campaigns.simulated_engagement``). Every event has an ``event_id``;
recording the same id twice is a no-op, so re-importing a file never double-counts.

One event, as a JSON object or a CSV row::

    {"event_id": "e-1", "kind": "opened", "campaign": "Spring sale",
     "device": "<token>", "at": "2026-05-01T09:03:00Z",
     "variant": "B", "action_id": ""}

``campaign`` is the value of ``pushdeck_campaign`` in the payload's data (the name);
``variant`` may be omitted (it is taken from the send journal); ``action_id`` is
required for ``action``. A ``converted`` event (a purchase, with an optional value;
its fields are described in ``pushdeck.core.engagement.conversions``) goes through the same
validation and is stored in its own table. ``event_id`` should be a unique id made by
the reporter; when it is missing one is derived from the other fields, so a report sent
twice counts once.

Events come from outside (any app, any network), so each is checked field by field
(text of bounded length, or a number within 64 bits) and against the send journal
(the campaign sent to the device, the provider did not refuse it, the time is not in
the future); a bad event is rejected with its index, field and reason, never raised.

The journal check needs a campaign, so it applies wherever one is named: to every
engagement event (``campaign`` is required) and to a *direct* conversion. A conversion
without ``campaign`` is *influenced*: it is attributed at report time to the last
campaign the device opened within the attribution window (``pushdeck.core.reports.attribution``),
so there is no send to check it against; it is checked field by field like the others
(ISO 4217 currency, a value of at most 6 decimals) and its device must exist, in
``app`` when given and otherwise in exactly one app.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from pushdeck.core.common.errors import ConfigError
from pushdeck.core.common.model import EngagementEvent, EngagementKind
from pushdeck.core.engagement.conversions import KIND as CONVERTED
from pushdeck.core.engagement.conversions import value_micros
from pushdeck.core.engagement.currencies import check_currency
from pushdeck.core.store.conversions import find_app, find_devices
from pushdeck.core.store.events import (
    CampaignRef,
    SendRecord,
    find_campaign,
    find_send,
    insert_events,
)
from pushdeck.core.store.workspace import Workspace

BATCH = 5000
_KINDS = ", ".join([*(k.value for k in EngagementKind), CONVERTED])
_KIND_VALUES = frozenset(k.value for k in EngagementKind)  # engagement; 'converted' apart
_ALIASES = {"device_token": "device", "token": "device", "pushdeck_campaign": "campaign"}
_MAX_ERRORS = 1000  # a broken file reports its first thousand problems, not a million


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based data row (CSV header excluded), or index in a batch
    field: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.reason}"


@dataclass
class EventReport:
    """What happened to a batch or file of events."""

    received: int = 0
    recorded: int = 0
    duplicates: int = 0  # valid events already recorded (same event_id)
    errors: list[RowError] = field(default_factory=list)
    rejected: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "recorded": self.recorded,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": [{"row": e.row, "field": e.field, "reason": e.reason} for e in self.errors],
        }


class _Resolver:
    """Campaign names and device tokens to ids and journal rows, cached for a batch."""

    def __init__(self, ws: Workspace, now: datetime | None = None) -> None:
        self.ws = ws
        self.campaigns: dict[str, CampaignRef | None] = {}
        self.sends: dict[tuple[int, str], SendRecord | None] = {}
        self.apps: dict[str, int | None] = {}
        self.now = now or datetime.now(UTC)

    def campaign(self, name: str) -> CampaignRef | None:
        if name not in self.campaigns:
            self.campaigns[name] = find_campaign(self.ws, name)
        return self.campaigns[name]

    def send(self, campaign: CampaignRef, token: str) -> SendRecord | None:
        key = (campaign.id, token)
        if key not in self.sends:
            self.sends[key] = find_send(self.ws, campaign, token)
        return self.sends[key]

    def app(self, name: str) -> int | None:
        if name not in self.apps:
            self.apps[name] = find_app(self.ws, name)
        return self.apps[name]

    def devices(self, token: str, app_id: int | None) -> list[tuple[int, int]]:
        """(device id, app id) of each device with ``token`` (in ``app_id`` when given)."""
        return find_devices(self.ws, token, app_id)


#: How far ahead of this computer's clock an event's time may be: phones' clocks drift.
CLOCK_SKEW = timedelta(minutes=10)
#: Longest accepted text per field (a Web Push endpoint is the longest token, < 1 KB).
_MAX_LENGTH = {
    "event_id": 256,
    "kind": 32,
    "campaign": 1000,
    "device": 4096,
    "at": 64,
    "action_id": 256,
    "variant": 256,
    "conversion": 120,  # converted events: the conversion's name ...
    "app": 200,  # ... the app the device is in (a token may be in several)
    "currency": 16,  # ... an ISO 4217 code, checked as one
}
_INT64 = range(-(2**63), 2**63)
# Control characters and lone surrogates (JSON "\ud800") cannot be stored as UTF-8 text.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# Journal states where a notification may have reached the device.
_MAY_HAVE_ARRIVED = frozenset({"accepted", "in_flight"})
_REFUSED = frozenset({"rejected", "dead"})


def _normalize(raw: Mapping[Any, Any]) -> dict[str, Any]:
    return {_ALIASES.get(str(k).strip(), str(k).strip()): v for k, v in raw.items()}


def _shown(value: str, limit: int = 40) -> str:
    """A value quoted in a reason, cut short: reasons go back to whoever sent it."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _text(doc: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    """The field as clean text; numbers within 64 bits are accepted as their digits."""
    value = doc.get(name)
    if value is None:
        value = ""
    elif isinstance(value, int) and not isinstance(value, bool):
        if value not in _INT64:
            raise _FieldError(name, "a number beyond 64 bits; send it as a string")
        value = str(value)
    elif not isinstance(value, str):
        raise _FieldError(name, f"must be a string, not {_json_type(value)}")
    value = value.strip()
    if required and not value:
        raise _FieldError(name, "missing")
    if len(value) > _MAX_LENGTH[name]:
        raise _FieldError(name, f"longer than {_MAX_LENGTH[name]} characters")
    if _UNSTORABLE.search(value):
        raise _FieldError(name, "contains control characters or invalid Unicode")
    return value


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class UnreadableRow:
    """A row of an events file that could not be parsed (reported, never recorded).

    A type of its own, not a marker key, so nothing a client posts can pose as one.
    """

    reason: str


class _FieldError(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class ConversionRow:
    """A validated ``converted`` event: a row of the conversions table, not of events."""

    row: tuple[Any, ...]


def validate_event(raw: Any, resolver: _Resolver) -> tuple[Any, ...] | ConversionRow:
    """The events-table row for ``raw`` (a ``ConversionRow`` for a ``converted`` event);
    raises _FieldError naming the bad field.

    Nothing about ``raw`` is trusted: every field must be text of a bounded length
    (or a 64-bit number), and the event must fit the send journal — the campaign sent
    to this device, the send was not refused, and the time is not in the future. (A
    conversion naming no campaign has no send to fit: see the module's docstring.)
    """
    if isinstance(raw, UnreadableRow):  # a line of a file that could not be read
        raise _FieldError("(line)", raw.reason)
    if not isinstance(raw, Mapping):
        raise _FieldError("(event)", "an event must be a JSON object")
    doc = _normalize(raw)
    event_id = _text(doc, "event_id")
    kind = _text(doc, "kind", required=True).lower()
    if kind == CONVERTED:
        return _validate_conversion(doc, event_id, resolver)
    if kind not in _KIND_VALUES:
        raise _FieldError("kind", f"{_shown(kind)} is not one of {_KINDS}")
    action_id = _text(doc, "action_id")
    if kind == EngagementKind.ACTION and not action_id:
        raise _FieldError("action_id", "required when kind is 'action'")
    at = _event_time(_text(doc, "at", required=True), resolver.now)
    name = _text(doc, "campaign", required=True)
    campaign = resolver.campaign(name)
    if campaign is None:
        raise _FieldError("campaign", f"no campaign named {_shown(name)}")
    send = resolver.send(campaign, _text(doc, "device", required=True))
    _check_journal(send)
    assert send is not None
    variant = _text(doc, "variant") or send.variant
    event_id = event_id or _derived_id(doc)  # only now: every field it uses is checked
    return (event_id, campaign.id, send.device_id, variant, kind, action_id, at)


def _event_time(value: str, now: datetime) -> str:
    try:
        moment = _parse_time(value)
    except (ValueError, OverflowError):  # OverflowError: year 9999 west of UTC
        raise _FieldError("at", "not an ISO 8601 time with a time zone (e.g. …Z)") from None
    if moment > now + CLOCK_SKEW:
        minutes = int(CLOCK_SKEW.total_seconds() // 60)
        raise _FieldError(
            "at",
            f"{moment:%Y-%m-%dT%H:%M:%SZ} is in the future (more than {minutes} minutes "
            f"after this computer's clock, {now:%Y-%m-%dT%H:%M:%SZ})",
        )
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _validate_conversion(
    doc: Mapping[str, Any], event_id: str, resolver: _Resolver
) -> ConversionRow:
    """The conversions-table row for a ``converted`` event (``event_id`` checked already).

    Direct (``campaign`` named): the journal check of every event, reported on the
    ``campaign`` field. Influenced (no campaign): no send to check; the device must
    exist, in ``app`` when given, otherwise in exactly one app.
    """
    at = _event_time(_text(doc, "at", required=True), resolver.now)
    token = _text(doc, "device", required=True)
    name = _text(doc, "campaign")
    campaign = resolver.campaign(name) if name else None
    if name and campaign is None:
        raise _FieldError("campaign", f"no campaign named {_shown(name)}")
    app_name = _text(doc, "app")
    app_id = campaign.app_id if campaign is not None else None
    if app_name:
        app_id = resolver.app(app_name)
        if app_id is None:
            raise _FieldError("app", f"no app named {_shown(app_name)}")
        if campaign is not None and campaign.app_id != app_id:
            raise _FieldError("app", "the campaign belongs to another app")
    if campaign is not None:
        send = resolver.send(campaign, token)
        if send is None:
            raise _FieldError("device", "no device with this token")
        _check_journal(send, field="campaign", hint=_INFLUENCED_HINT)
        device_id = send.device_id
    else:
        found = resolver.devices(token, app_id)
        if not found:
            raise _FieldError("device", "no device with this token")
        if len(found) > 1:
            raise _FieldError(
                "device", "this token is registered in several apps: say which with 'app'"
            )
        device_id, app_id = found[0]
    try:
        micros = value_micros(doc.get("value"))
    except ValueError as exc:
        raise _FieldError("value", str(exc)) from None
    currency = _text(doc, "currency")
    if currency:
        try:
            currency = check_currency(currency)
        except ValueError as exc:
            raise _FieldError("currency", str(exc)) from None
    if micros is not None and not currency:
        raise _FieldError("currency", "required with a value (an ISO 4217 code: EUR)")
    conversion = _text(doc, "conversion")
    event_id = event_id or _derived_conversion_id(doc)  # only now: its fields are checked
    campaign_id = campaign.id if campaign is not None else None
    return ConversionRow(
        (event_id, app_id, device_id, campaign_id, conversion, micros, currency, at)
    )


_INFLUENCED_HINT = "; leave 'campaign' out to let Pushdeck attribute it by opens"


def _check_journal(send: SendRecord | None, *, field: str = "device", hint: str = "") -> None:
    """Engagement is only possible where a notification may have reached the device."""
    if send is None:
        raise _FieldError(field, "no device with this token in the campaign's app")
    state = send.state
    if state in _MAY_HAVE_ARRIVED or (state == "queued" and send.possibly_duplicated):
        return
    if state is None:
        reason = "the campaign did not send to this device"
    elif state in _REFUSED:
        reason = f"the provider refused the send to this device ({state}): it never arrived"
    elif state == "queued":
        reason = "the campaign has not sent to this device yet"
    else:
        reason = f"the campaign did not send to this device (it is {state})"
    raise _FieldError(field, reason + hint)


def _derived_id(doc: Mapping[str, Any]) -> str:
    """An id for an event sent without one: the same report sent twice gets the same id."""
    parts = [str(doc.get(k) or "") for k in ("kind", "campaign", "device", "at", "action_id")]
    return "derived-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _derived_conversion_id(doc: Mapping[str, Any]) -> str:
    """An id for a conversion sent without one: the same report twice counts once."""
    keys = ("kind", "device", "app", "campaign", "at", "conversion", "value", "currency")
    parts = [str(doc.get(k) or "") for k in keys]
    return "derived-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def record_events(
    ws: Workspace,
    events: Iterable[Any],
    *,
    report: EventReport | None = None,
    first_row: int = 1,
    batch: int | None = BATCH,
    now: datetime | None = None,
) -> EventReport:
    """Validate and record events; bad ones are reported, good ones kept.

    Every event of a batch is validated before any of it is written, and validation
    never raises, so a hostile event cannot cost its neighbours. ``batch=None`` writes
    everything in one transaction (the collector: one request, one commit); files are
    written ``batch`` events at a time, and re-importing them is idempotent. ``now``
    is the clock future events are judged by (the sandbox's simulated time).
    """
    report = report or EventReport()
    resolver = _Resolver(ws, now)
    rows: list[tuple[Any, ...]] = []
    conversions: list[tuple[Any, ...]] = []  # 'converted' events have their own table
    for index, raw in enumerate(events, start=first_row):
        report.received += 1
        try:
            row = validate_event(raw, resolver)
            if isinstance(row, ConversionRow):
                conversions.append(row.row)
            else:
                rows.append(row)
        except _FieldError as exc:
            _reject(report, RowError(index, exc.field, exc.reason))
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:
            # A safety net, not a path: whatever a check above missed costs one event.
            _reject(report, RowError(index, "(event)", f"unreadable ({type(exc).__name__})"))
        if batch is not None and len(rows) + len(conversions) >= batch:
            _write(ws, rows, conversions, report)
            rows, conversions = [], []
    _write(ws, rows, conversions, report)
    return report


def _reject(report: EventReport, error: RowError) -> None:
    report.rejected += 1
    if len(report.errors) < _MAX_ERRORS:
        report.errors.append(error)


def _write(
    ws: Workspace,
    rows: list[tuple[Any, ...]],
    conversions: list[tuple[Any, ...]],
    report: EventReport,
) -> None:
    recorded = insert_events(ws, rows, conversions)
    report.recorded += recorded
    report.duplicates += len(rows) + len(conversions) - recorded


def read_events_file(path: Path) -> Iterator[Any]:
    """Rows of a CSV (header row) or NDJSON file, lazily; unreadable rows become errors.

    The file is as untrusted as a post to the collector: a line that is not JSON, is
    nested 100,000 deep, or holds a 50 MB CSV field costs that row only, and bytes
    that are not UTF-8 reach validation as invalid text (rejected per field).
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".ndjson", ".jsonl", ".json"):
        raise ConfigError(
            f"{path.name}: unknown event file type {suffix!r}.",
            hint="Use .csv (with a header row) or .ndjson (one JSON object per line).",
        )
    with path.open("rb") as raw:
        if raw.read(2) in (b"\xff\xfe", b"\xfe\xff"):
            raise ConfigError(
                f"{path.name} is UTF-16 text; events files are read as UTF-8.",
                hint="Save it as UTF-8 (e.g. 'CSV UTF-8' in a spreadsheet) and import again.",
            )
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        if suffix == ".csv":
            yield from _csv_rows(handle)
            return
        for line in handle:
            if line.strip():
                yield _json_line(line)


def _csv_rows(handle: TextIO) -> Iterator[Any]:
    reader = csv.DictReader(handle)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over csv's 128 KB limit; the reader goes on
            yield UnreadableRow(f"unreadable CSV row ({exc})")
            continue
        yield row


def _json_line(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        return UnreadableRow(f"invalid JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return UnreadableRow("invalid JSON (nested too deeply)")
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        return UnreadableRow(f"invalid JSON ({str(exc)[:80]})")


def import_events_file(ws: Workspace, path: Path | str) -> EventReport:
    """``pushdeck events import FILE``: idempotent by event_id, errors by row and field."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"No event file at {path}.")
    return record_events(ws, read_events_file(path))


def event_to_dict(event: EngagementEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "kind": event.kind.value,
        "campaign": event.campaign,
        "device": event.device_token,
        "variant": event.variant,
        "at": event.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "action_id": event.action_id,
    }


def record_reported_engagement(ws: Workspace, providers: Iterable[object]) -> EventReport:
    """Record what providers' simulated devices reported (the sandbox), through the same
    validation as events a real app posts to the collector."""
    from pushdeck.core.providers.sandbox_engagement import EngagementReporter

    report = EventReport()
    for provider in providers:
        if isinstance(provider, EngagementReporter):
            events = provider.take_engagement()
            if events:
                # Simulated devices report over the next hours, recorded now: their own
                # clock (the latest report) is what "in the future" is judged by.
                latest = max(e.at for e in events)
                record_events(
                    ws, (event_to_dict(e) for e in events), report=report, now=latest
                )
    return report
