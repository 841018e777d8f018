"""The audit log as entries: who (login), when, what, on which object."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pushdeck.core.common.errors import ConfigError
from pushdeck.core.store import audit as store
from pushdeck.core.store.workspace import Workspace


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    who: str
    action: str
    object_kind: str
    object_id: int | None
    object_name: str
    details: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "at": self.at, "who": self.who, "action": self.action,
            "object_kind": self.object_kind, "object_id": self.object_id,
            "object_name": self.object_name, "details": self.details,
        }  # fmt: skip

    @property
    def summary(self) -> str:
        """The details as short text ("role=editor")."""
        return ", ".join(f"{k}={v}" for k, v in self.details.items())


def parse_since(text: str, *, now: datetime | None = None) -> str:
    """``--since``: a date (2026-12-01), a UTC time (2026-12-01T10:00:00Z), or an age
    (30m, 12h, 7d); the stored form."""
    text = text.strip()
    moment = now or datetime.now(UTC)
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if text[-1:] in units and text[:-1].isdigit():
        moment -= timedelta(**{units[text[-1]]: int(text[:-1])})
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        if len(text) == 10:
            return date.fromisoformat(text).strftime("%Y-%m-%dT00:00:00Z")
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"Cannot read {text!r} as a date.",
            hint="Give a date (2026-12-01), a UTC time (2026-12-01T10:00:00Z) or an age "
            "(30m, 12h, 7d).",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_audit(
    ws: Workspace, *, since: str | None = None, limit: int | None = None
) -> list[AuditEntry]:
    """Entries oldest first (``since`` in the stored form, see ``parse_since``)."""
    entries = []
    for row in store.rows(ws, since=since, limit=limit):
        try:
            details = json.loads(row["details"] or "{}")
        except ValueError:
            details = {"text": row["details"]}
        entries.append(
            AuditEntry(
                int(row["id"]),
                row["at"],
                row["who"],
                row["action"],
                row["object_kind"],
                row["object_id"],
                row["object_name"],
                details if isinstance(details, dict) else {"value": details},
            )
        )
    return entries
