"""Leases in the workspace's meta table: a JSON value with a ``token`` under a key.

``pushdeck.core.campaigns.sender_lease`` decides when a lease is still held (a live
process, a recent heartbeat); this module reads and swaps the rows, so that checking
and taking happen in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pushdeck.core.store.workspace import Workspace

Holder = TypeVar("Holder")


def take(
    ws: Workspace, key: str, value: str, held_by: Callable[[str | None], Holder | None]
) -> Holder | None:
    """Store ``value`` under ``key`` unless ``held_by(current value)`` names a holder,
    which is then returned (and nothing is written)."""
    with ws.transaction() as conn:
        ws.dialect.lock(conn, key)  # PostgreSQL: takers of one key queue here, one by one
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        holder = held_by(row[0] if row else None)
        if holder is not None:
            return holder
        conn.execute(ws.dialect.replace_meta(), (key, value))
    return None


def renew(ws: Workspace, key: str, token: str, value: str) -> None:
    """Replace the lease's value, if it is still the one taken with ``token``."""
    with ws.transaction() as conn:
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = ?"
            f" AND {ws.dialect.json_text_field('value', 'token')} = ?",
            (value, key, token),
        )


def release(ws: Workspace, key: str, token: str) -> None:
    """Drop the lease, if it is still the one taken with ``token``."""
    with ws.transaction() as conn:
        token_of = ws.dialect.json_text_field("value", "token")
        conn.execute(
            f"DELETE FROM meta WHERE key = ? AND {token_of} = ?",
            (key, token),
        )


def current(ws: Workspace, key: str) -> str | None:
    """The lease's value as stored now (None when nobody holds it)."""
    value = ws.scalar("SELECT value FROM meta WHERE key = ?", (key,))
    return str(value) if value is not None else None
