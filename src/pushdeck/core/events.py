"""Engagement events: delivered, opened, action pressed, dismissed (and converted).

Three ways in, one validation: ``import_events_file`` (CSV / NDJSON), the local
collector (``record_events`` from its own thread and connection), and the sandbox's
simulation (``simulate_campaign_engagement``). Every event has an ``event_id``;
recording the same id twice is a no-op, so re-importing a file never double-counts.

One event, as a JSON object or a CSV row::

    {"event_id": "e-1", "kind": "opened", "campaign": "Spring sale",
     "device": "<token>", "at": "2026-05-01T09:03:00Z",
     "variant": "B", "action_id": ""}

``campaign`` is the value of ``pushdeck_campaign`` in the payload's data (the name);
``variant`` may be omitted (it is taken from the send journal); ``action_id`` is
required for ``action``. A ``converted`` event (a purchase, with an optional value) is
checked and stored by ``pushdeck.core.conversions``. ``event_id`` should be a unique id
made by the reporter; when it is missing one is derived from the other fields, so a
report sent twice counts once.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pushdeck.core.conversions import Checker, ConversionError, is_conversion, record_conversions
from pushdeck.core.errors import ConfigError
from pushdeck.core.model import (
    EngagementEvent,
    EngagementKind,
    ProviderKind,
    SendResult,
    SendStatus,
)
from pushdeck.core.store.workspace import Workspace, utcnow

BATCH = 5000
_KINDS = ", ".join([*(k.value for k in EngagementKind), "converted"])
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
    """Campaign names and device tokens to ids, cached for a batch."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.campaigns: dict[str, tuple[int, int] | None] = {}

    def campaign(self, name: str) -> tuple[int, int] | None:
        """(campaign id, app id), or None when there is no such campaign."""
        if name not in self.campaigns:
            rows = self.ws.query("SELECT id, app_id FROM campaigns WHERE name = ?", (name,))
            if not rows and name.isdigit():
                rows = self.ws.query("SELECT id, app_id FROM campaigns WHERE id = ?", (int(name),))
            self.campaigns[name] = (rows[0][0], rows[0][1]) if rows else None
        return self.campaigns[name]

    def device(self, app_id: int, token: str, campaign_id: int) -> tuple[int, str] | None:
        """(device id, journal variant) of ``token`` in the campaign's app."""
        rows = self.ws.query(
            "SELECT d.id, coalesce(j.variant, '') FROM devices d LEFT JOIN journal j"
            " ON j.device_id = d.id AND j.campaign_id = ? WHERE d.app_id = ? AND d.token = ?",
            (campaign_id, app_id, token),
        )
        return (rows[0][0], rows[0][1]) if rows else None


def _normalize(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {_ALIASES.get(str(k).strip(), str(k).strip()): v for k, v in raw.items()}


def _parse_time(value: Any) -> str:
    moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("no time zone")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _required(doc: Mapping[str, Any], name: str) -> str:
    value = doc.get(name)
    if value is None or not str(value).strip():
        raise _FieldError(name, "missing")
    return str(value).strip()


class _FieldError(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def validate_event(raw: Any, resolver: _Resolver) -> tuple[Any, ...]:
    """The events-table row for ``raw``; raises _FieldError naming the bad field."""
    if not isinstance(raw, Mapping):
        raise _FieldError("(event)", "an event must be a JSON object")
    if "__error__" in raw:  # a line of an NDJSON file that is not JSON
        raise _FieldError("(line)", str(raw["__error__"]))
    doc = _normalize(raw)
    event_id = str(doc.get("event_id") or "").strip() or _derived_id(doc)
    kind = _required(doc, "kind").lower()
    if kind not in {k.value for k in EngagementKind}:
        raise _FieldError("kind", f"{kind!r} is not one of {_KINDS}")
    action_id = str(doc.get("action_id") or "").strip()
    if kind == EngagementKind.ACTION and not action_id:
        raise _FieldError("action_id", "required when kind is 'action'")
    try:
        at = _parse_time(_required(doc, "at"))
    except ValueError:
        raise _FieldError("at", "not an ISO 8601 time with a time zone (e.g. …Z)") from None
    campaign = resolver.campaign(_required(doc, "campaign"))
    if campaign is None:
        raise _FieldError("campaign", f"no campaign named {doc['campaign']!r}")
    device = resolver.device(campaign[1], _required(doc, "device"), campaign[0])
    if device is None:
        raise _FieldError("device", "no device with this token in the campaign's app")
    variant = str(doc.get("variant") or device[1])
    return (event_id, campaign[0], device[0], variant, kind, action_id, at)


def _derived_id(doc: Mapping[str, Any]) -> str:
    """An id for an event sent without one: the same report sent twice gets the same id."""
    parts = [str(doc.get(k) or "") for k in ("kind", "campaign", "device", "at", "action_id")]
    return "derived-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


_INSERT = (
    "INSERT OR IGNORE INTO events (event_id, campaign_id, device_id, variant, kind, action_id,"
    " at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def record_events(
    ws: Workspace, events: Iterable[Any], *, report: EventReport | None = None, first_row: int = 1
) -> EventReport:
    """Validate and record events in batches; bad ones are reported, good ones kept."""
    report = report or EventReport()
    resolver = _Resolver(ws)
    batch: list[tuple[Any, ...]] = []
    converted = _Conversions(ws)  # issue 20: 'converted' events have their own table
    for index, raw in enumerate(events, start=first_row):
        report.received += 1
        try:
            if is_conversion(raw):
                converted.add(raw, report)
                continue
            batch.append(validate_event(raw, resolver))
        except (_FieldError, ConversionError) as exc:
            report.rejected += 1
            if len(report.errors) < _MAX_ERRORS:
                report.errors.append(RowError(index, exc.field, exc.reason))
        if len(batch) >= BATCH:
            _insert(ws, batch, report)
            batch = []
    _insert(ws, batch, report)
    converted.flush(report)
    return report


class _Conversions:
    """Conversions of a batch: checked by ``conversions``, written alongside events."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.checker = Checker(ws)
        self.rows: list[tuple[Any, ...]] = []

    def add(self, raw: Any, report: EventReport) -> None:
        self.rows.append(self.checker.row(raw))
        if len(self.rows) >= BATCH:
            self.flush(report)

    def flush(self, report: EventReport) -> None:
        recorded = record_conversions(self.ws, self.rows)
        report.recorded += recorded
        report.duplicates += len(self.rows) - recorded
        self.rows = []


def _insert(ws: Workspace, batch: list[tuple[Any, ...]], report: EventReport) -> None:
    if not batch:
        return
    now = utcnow()
    with ws.transaction() as conn:
        cursor = conn.executemany(_INSERT, [(*row, now) for row in batch])
    report.recorded += cursor.rowcount
    report.duplicates += len(batch) - cursor.rowcount


def read_events_file(path: Path) -> Iterator[Any]:
    """Rows of a CSV (header row) or NDJSON file, lazily; JSON errors become rows."""
    suffix = path.suffix.lower()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        if suffix == ".csv":
            yield from csv.DictReader(handle)
            return
        if suffix not in (".ndjson", ".jsonl", ".json"):
            raise ConfigError(
                f"{path.name}: unknown event file type {suffix!r}.",
                hint="Use .csv (with a header row) or .ndjson (one JSON object per line).",
            )
        for line in handle:
            if line.strip():
                yield _json_line(line)


def _json_line(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        return {"__error__": f"invalid JSON ({exc.msg} at column {exc.colno})"}


def import_events_file(ws: Workspace, path: Path | str) -> EventReport:
    """``pushdeck events import FILE``: idempotent by event_id, errors by row and field."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"No event file at {path}.")
    return record_events(ws, read_events_file(path))


def simulate_campaign_engagement(
    ws: Workspace,
    name: str,
    *,
    open_rate: float | Mapping[str, float] = 0.12,
    now: datetime | None = None,
    seed: int = 0,
) -> EventReport:
    """Record the sandbox's simulated engagement for the accepted sends of ``name``.

    Deterministic (same ids every time), so calling it again later only adds the
    events that have "happened" since.
    """
    from pushdeck.core.campaigns import get_campaign
    from pushdeck.core.providers.sandbox_engagement import SentNotification, simulate_engagement

    campaign = get_campaign(ws, name)
    actions = tuple(a.id for a in campaign.spec.message.actions)
    rows = ws.query(
        "SELECT d.token, j.variant, coalesce(j.finished_at, j.sent_at) AS at, j.provider_id"
        " FROM journal j JOIN devices d ON d.id = j.device_id"
        " WHERE j.campaign_id = ? AND j.state = 'accepted'",
        (campaign.id,),
    )
    sends = [
        SentNotification(
            name,
            r["token"],
            datetime.fromisoformat(r["at"].replace("Z", "+00:00")),
            SendResult(SendStatus.ACCEPTED, ProviderKind.SANDBOX, provider_id=r["provider_id"]),
            r["variant"],
            actions,
        )
        for r in rows
    ]
    events = simulate_engagement(
        sends, open_rate=open_rate, now=now or datetime.now(UTC), seed=seed
    )
    return record_events(ws, (event_to_dict(e) for e in events))


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
