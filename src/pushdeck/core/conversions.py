"""Conversions: the ``converted`` event — a purchase, a sign-up — with an optional value.

Accepted wherever events are (the collector, ``pushdeck events import``, the service
worker), in the same batches, and checked as strictly::

    {"kind": "converted", "device": "<token>", "at": "2026-05-01T10:12:00Z",
     "conversion": "purchase", "value": 19.99, "currency": "EUR",
     "campaign": "Spring sale", "event_id": "…", "app": "shop"}

Only ``kind``, ``device`` and ``at`` are required. ``campaign`` (the payload's
``pushdeck_campaign``) makes the conversion *direct*: it counts for that campaign,
which must have sent to the device. Without it the conversion is *influenced* by the
last campaign the device opened within the app's attribution window, decided when a
report is made (``attribution``). ``app`` picks the app when the same token is
registered in several. ``value`` is a number ≥ 0 with at most 6 decimals, in the
``currency`` it comes with (an ISO 4217 code, required with a value).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pushdeck.core.currencies import check_currency
from pushdeck.core.store import conversions as store
from pushdeck.core.store.workspace import Workspace

KIND = "converted"
#: Largest value accepted (a trillion): beyond it is a unit mistake, not a sale.
MAX_VALUE = Decimal(10) ** 12
MICROS = Decimal(1_000_000)
#: How far ahead of this computer's clock a conversion's time may be (phones drift).
CLOCK_SKEW = timedelta(minutes=10)
_MAX_LENGTH = {"event_id": 256, "device": 4096, "campaign": 1000, "app": 200,
               "conversion": 120, "at": 64, "currency": 16}  # fmt: skip
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_ALIASES = {"device_token": "device", "token": "device", "pushdeck_campaign": "campaign"}
#: Journal states in which the campaign's notification may have reached the device.
_MAY_HAVE_ARRIVED = frozenset({"accepted", "in_flight"})


class ConversionError(Exception):
    """A bad conversion event: which field, and why (reported like any event's)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def is_conversion(raw: Any) -> bool:
    """True for an event whose kind is ``converted`` (any case, any spaces)."""
    if not isinstance(raw, Mapping):
        return False
    kind = raw.get("kind")
    return isinstance(kind, str) and kind.strip().lower() == KIND


class Checker:
    """Validates conversion events of one batch (campaign and device lookups cached)."""

    def __init__(self, ws: Workspace, now: datetime | None = None) -> None:
        self.ws = ws
        self.now = now or datetime.now(UTC)
        self.campaigns: dict[str, store.CampaignRef | None] = {}
        self.apps: dict[str, int | None] = {}

    def row(self, raw: Mapping[str, Any]) -> tuple[Any, ...]:
        """The conversions-table row for ``raw``; ConversionError names the bad field."""
        doc = {_ALIASES.get(str(k).strip(), str(k).strip()): v for k, v in raw.items()}
        at = self._time(_text(doc, "at", required=True))
        token = _text(doc, "device", required=True)
        campaign = self._campaign(_text(doc, "campaign"))
        app_id = self._app(_text(doc, "app"), campaign)
        device_id, app_id = self._device(token, app_id)
        if campaign is not None:
            _check_sent(store.journal_state(self.ws, campaign.id, device_id))
        micros, currency = _value(doc.get("value")), _text(doc, "currency")
        if currency:
            try:
                currency = check_currency(currency)
            except ValueError as exc:
                raise ConversionError("currency", str(exc)) from None
        if micros is not None and not currency:
            raise ConversionError("currency", "required with a value (an ISO 4217 code: EUR)")
        name = _text(doc, "conversion")
        event_id = _text(doc, "event_id") or _derived_id(doc)
        return (event_id, app_id, device_id, campaign.id if campaign else None, name, micros,
                currency, at)  # fmt: skip

    def _time(self, value: str) -> str:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError
            moment = moment.astimezone(UTC)
        except (ValueError, OverflowError):
            raise ConversionError("at", "not an ISO 8601 time with a time zone (e.g. …Z)") from None
        if moment > self.now + CLOCK_SKEW:
            raise ConversionError("at", f"{moment:%Y-%m-%dT%H:%M:%SZ} is in the future")
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _campaign(self, name: str) -> store.CampaignRef | None:
        if not name:
            return None
        if name not in self.campaigns:
            self.campaigns[name] = store.find_campaign(self.ws, name)
        found = self.campaigns[name]
        if found is None:
            raise ConversionError("campaign", f"no campaign named {_shown(name)}")
        return found

    def _app(self, name: str, campaign: store.CampaignRef | None) -> int | None:
        if not name:
            return campaign.app_id if campaign else None
        if name not in self.apps:
            self.apps[name] = store.find_app(self.ws, name)
        app_id = self.apps[name]
        if app_id is None:
            raise ConversionError("app", f"no app named {_shown(name)}")
        if campaign is not None and campaign.app_id != app_id:
            raise ConversionError("app", "the campaign belongs to another app")
        return app_id

    def _device(self, token: str, app_id: int | None) -> tuple[int, int]:
        found = store.find_devices(self.ws, token, app_id)
        if not found:
            raise ConversionError("device", "no device with this token")
        if len(found) > 1:
            raise ConversionError(
                "device", "this token is registered in several apps: say which with 'app'"
            )
        return found[0]


def _text(doc: Mapping[str, Any], name: str, *, required: bool = False) -> str:
    value = doc.get(name)
    if value is None:
        value = ""
    elif isinstance(value, int) and not isinstance(value, bool) and name != "at":
        value = str(value)  # a numeric id or campaign id
    elif not isinstance(value, str):
        raise ConversionError(name, "must be a string")
    value = value.strip()
    if required and not value:
        raise ConversionError(name, "missing")
    if len(value) > _MAX_LENGTH.get(name, 256):
        raise ConversionError(name, f"longer than {_MAX_LENGTH.get(name, 256)} characters")
    if _UNSTORABLE.search(value):
        raise ConversionError(name, "contains control characters or invalid Unicode")
    return value


def _value(value: Any) -> int | None:
    """The value in millionths (exact sums in SQL); None when there is none."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ConversionError("value", "must be a number (e.g. 19.99)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConversionError("value", "must be a finite number")
    text = repr(value) if isinstance(value, float) else str(value).strip()
    if isinstance(value, str) and ("," in text or len(text) > 40):
        raise ConversionError("value", "write it with a dot for decimals and no separators")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ConversionError("value", f"{_shown(text)} is not a number") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_VALUE:
        raise ConversionError("value", "must be a number from 0 to 1,000,000,000,000")
    micros = amount * MICROS
    if micros != micros.to_integral_value():
        raise ConversionError("value", "has more than 6 decimals")
    return int(micros)


def _check_sent(state: str | None) -> None:
    if state in _MAY_HAVE_ARRIVED:
        return
    reason = (
        "the campaign did not send to this device"
        if state is None
        else f"the campaign's send to this device never arrived (it is {state})"
    )
    raise ConversionError(
        "campaign", f"{reason}; leave 'campaign' out to let Pushdeck attribute it by opens"
    )


def _shown(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _derived_id(doc: Mapping[str, Any]) -> str:
    """An id for a conversion sent without one: the same report twice counts once."""
    keys = ("kind", "device", "app", "campaign", "at", "conversion", "value", "currency")
    parts = [str(doc.get(k) or "") for k in keys]
    return "derived-" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def record_conversions(ws: Workspace, rows: list[tuple[Any, ...]]) -> int:
    """Write validated rows; how many were new (a known event_id is a duplicate)."""
    return store.insert_conversions(ws, rows)
