"""The last check of each credential, kept with its facts (``facts.last_check``).

"Check" asks the provider whether a credential works without notifying anyone. Its
answer is remembered so that the send confirmation can warn about a credential whose
last check failed. Replacing the credential replaces its facts, so a new credential
starts unchecked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pushdeck.core.store.workspace import Workspace, utcnow

KEY = "last_check"


@dataclass(frozen=True)
class LastCheck:
    ok: bool
    at: str  # UTC, as stored
    summary: str
    details: str = ""


def record_check(
    ws: Workspace, app: str, provider: str, ok: bool, summary: str, details: str = ""
) -> None:
    """Remember the outcome of checking ``app``'s ``provider`` credential (if it exists)."""
    value = json.dumps({"ok": ok, "at": utcnow(), "summary": summary, "details": details})
    with ws.transaction() as conn:
        conn.execute(
            f"UPDATE credentials SET facts = {ws.dialect.json_set_key('facts', 'last_check')}"
            " WHERE provider = ? AND app_id = (SELECT id FROM apps WHERE name = ?)",
            (value, provider, app),
        )


def last_check(facts: dict[str, Any]) -> LastCheck | None:
    """The last check recorded in a credential's facts, or None when never checked."""
    raw = facts.get(KEY)
    if not isinstance(raw, dict):
        return None
    return LastCheck(
        bool(raw.get("ok")),
        str(raw.get("at", "")),
        str(raw.get("summary", "")),
        str(raw.get("details", "")),
    )
