"""Credential rows: where each app's secret is in the keyring, and its non-secret facts.

``pushdeck.core.credentials.secrets`` talks to the keyring and decides what is stored;
this module only reads and writes rows (one per app and provider). The workspace's id,
kept in ``meta``, is part of every keyring user name, so that two workspaces never share
keyring entries.
"""

from __future__ import annotations

from pushdeck.core.store.workspace import Row, Workspace, utcnow


def workspace_id(ws: Workspace) -> str | None:
    """The workspace's id, or None before the first credential was stored."""
    value = ws.scalar("SELECT value FROM meta WHERE key = 'workspace_id'")
    return None if value is None else str(value)


def save_workspace_id(ws: Workspace, value: str) -> None:
    with ws.transaction() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('workspace_id', ?)", (value,))


def upsert_credential(
    ws: Workspace,
    *,
    app_id: int | None,
    provider: str,
    kind: str,
    keyring_service: str,
    keyring_username: str,
    facts_json: str,
    endpoint: str,
    ca_file: str,
) -> None:
    """Store the app's ``provider`` credential row, replacing the one it had."""
    with ws.transaction() as conn:
        conn.execute(
            "INSERT INTO credentials (app_id, provider, kind, keyring_service, keyring_username,"
            " facts, endpoint, ca_file, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(app_id, provider) DO UPDATE SET kind = excluded.kind,"
            " keyring_username = excluded.keyring_username, facts = excluded.facts,"
            " endpoint = excluded.endpoint, ca_file = excluded.ca_file",
            (
                app_id,
                provider,
                kind,
                keyring_service,
                keyring_username,
                facts_json,
                endpoint,
                ca_file,
                utcnow(),
            ),
        )


_SELECT = "SELECT c.*, a.name AS app FROM credentials c JOIN apps a ON a.id = c.app_id"


def credential_rows(ws: Workspace, app: str | None = None) -> list[Row]:
    """Credential rows with their app's name (``app``), by app and provider."""
    if app is None:
        return ws.query(f"{_SELECT} ORDER BY a.name, c.provider")
    return ws.query(f"{_SELECT} WHERE a.name = ? ORDER BY c.provider", (app,))


def credential_row(ws: Workspace, app: str, provider: str) -> Row | None:
    rows = ws.query(f"{_SELECT} WHERE a.name = ? AND c.provider = ?", (app, provider))
    return rows[0] if rows else None


def delete_credential(ws: Workspace, app: str, provider: str) -> None:
    with ws.transaction() as conn:
        conn.execute(
            "DELETE FROM credentials WHERE provider = ? AND app_id = (SELECT id FROM apps"
            " WHERE name = ?)",
            (provider, app),
        )
