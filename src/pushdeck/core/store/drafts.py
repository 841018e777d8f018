"""Composer drafts: JSON documents autosaved by the app, keyed by name."""

from __future__ import annotations

import json
from typing import Any

from pushdeck.core.store.workspace import Workspace, utcnow


def save_draft(ws: Workspace, name: str, document: dict[str, Any]) -> None:
    with ws.transaction() as conn:
        conn.execute(
            "INSERT INTO drafts (name, document, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(name) DO UPDATE SET document = excluded.document,"
            " updated_at = excluded.updated_at",
            (name, json.dumps(document, ensure_ascii=False), utcnow()),
        )


def load_draft(ws: Workspace, name: str) -> dict[str, Any] | None:
    raw = ws.scalar("SELECT document FROM drafts WHERE name = ?", (name,))
    if raw is None:
        return None
    document: dict[str, Any] = json.loads(raw)
    return document


def list_drafts(ws: Workspace) -> list[tuple[str, str]]:
    """(name, updated_at) of every draft, newest first."""
    rows = ws.query("SELECT name, updated_at FROM drafts ORDER BY updated_at DESC, name")
    return [(r["name"], r["updated_at"]) for r in rows]


def delete_draft(ws: Workspace, name: str) -> None:
    with ws.transaction() as conn:
        conn.execute("DELETE FROM drafts WHERE name = ?", (name,))
