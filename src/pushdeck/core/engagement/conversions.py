"""Conversions: the ``converted`` event — a purchase, a sign-up — with an optional value.

Accepted wherever events are (the collector, ``pushdeck events import``, the service
worker), in the same batches, and checked by the same validation
(``pushdeck.core.engagement.events.validate_event``) as strictly::

    {"kind": "converted", "device": "<token>", "at": "2026-05-01T10:12:00Z",
     "conversion": "purchase", "value": 19.99, "currency": "EUR",
     "campaign": "Spring sale", "event_id": "…", "app": "shop"}

Only ``kind``, ``device`` and ``at`` are required. ``campaign`` (the payload's
``pushdeck_campaign``) makes the conversion *direct*: it counts for that campaign,
which must have sent to the device. Without it the conversion is *influenced* by the
last campaign the device opened within the app's attribution window, decided when a
report is made (``attribution``). ``app`` picks the app when the same token is
registered in several. ``value`` is a number ≥ 0 with at most 6 decimals, in the
``currency`` it comes with (an ISO 4217 code, required with a value). Text fields
have the same bounded lengths as every event's, and a conversion naming no campaign is
not checked against the send journal (there is no send to check it against).

This module holds the value rule; ``events`` validates the rest and the rows are
written with the other events (``store.events.insert_events``).
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

KIND = "converted"
#: Largest value accepted (a trillion): beyond it is a unit mistake, not a sale.
MAX_VALUE = Decimal(10) ** 12
MICROS = Decimal(1_000_000)


def value_micros(value: Any) -> int | None:
    """The value in millionths (exact sums in SQL); None when there is none.

    ValueError says what is wrong with it (the reason reported for the ``value`` field).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("must be a number (e.g. 19.99)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    text = repr(value) if isinstance(value, float) else str(value).strip()
    if isinstance(value, str) and ("," in text or len(text) > 40):
        raise ValueError("write it with a dot for decimals and no separators")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{_shown(text)} is not a number") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_VALUE:
        raise ValueError("must be a number from 0 to 1,000,000,000,000")
    micros = amount * MICROS
    if micros != micros.to_integral_value():
        raise ValueError("has more than 6 decimals")
    return int(micros)


def _shown(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")
