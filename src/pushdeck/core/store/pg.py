"""A PostgreSQL connection that the store uses as it uses sqlite3's.

The store's SQL has ``?`` placeholders (sqlite3's); psycopg wants ``%s`` and a literal
``%`` doubled. Each statement text is translated once and cached, so a statement run a
million times costs one translation. Rows answer ``row["col"]``, ``row[0]``, ``keys()``
and ``dict(row)`` as ``sqlite3.Row`` does. The connection is in autocommit mode, as
sqlite3's with ``isolation_level=None``: a statement outside ``Workspace.transaction``
commits by itself, and the workspace writes BEGIN and COMMIT itself.

Numbers: PostgreSQL's ``sum`` of integers is ``numeric``; it comes back as an ``int``
(a ``float`` when it has a fraction), as SQLite's does, not as ``Decimal``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import psycopg
from psycopg.adapt import Loader

from pushdeck.core.common.errors import PermissionDeniedError, WorkspaceError
from pushdeck.core.common.workspace_location import redact
from pushdeck.core.store.db_errors import as_connection_lost, is_connection_loss
from pushdeck.core.store.dialect import is_postgres_uri

__all__ = ["PgConnection", "PgRow", "connect", "is_postgres_uri", "redact", "translate"]

_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%")


@lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """``sql`` with ``?`` as ``%s`` and ``%`` as ``%%``, except inside quoted text."""

    def swap(match: re.Match[str]) -> str:
        token = match.group()
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        return token.replace("%", "%%")  # psycopg reads % even inside literals

    return _TOKENS.sub(swap, sql)


class PgRow:
    """One row, by position and by column name (the first column of that name)."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: Sequence[Any]) -> None:
        self._index = index
        self._values = tuple(values)

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PgRow):
            return self._values == other._values and self.keys() == other.keys()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._index, self._values, strict=False))!r})"


def _row_factory(cursor: psycopg.Cursor[Any]) -> Any:
    index: dict[str, int] = {}
    for i, column in enumerate(cursor.description or ()):
        index.setdefault(column.name, i)

    def make(values: Sequence[Any]) -> PgRow:
        return PgRow(index, values)

    return make


class _NumberLoader(Loader):
    """``numeric`` as int when whole (sums of integers), else float."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        if text.lstrip("-").isdigit():
            return int(text)
        return float(text)


class PgCursor:
    """The part of sqlite3.Cursor the store uses."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def fetchone(self) -> Any:
        if self._cursor.description is None:
            return None
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        if self._cursor.description is None:
            return []
        return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """A psycopg connection taking sqlite3-style statements (see the module docstring)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Any = ()) -> PgCursor:
        try:
            cursor = self.raw.cursor()  # raises too when the connection is closed
            cursor.execute(translate(sql), _params(params))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise self.denied(exc, sql) from exc
        except psycopg.OperationalError as exc:
            raise self.classified(exc) from exc
        return PgCursor(cursor)

    def executemany(self, sql: str, rows: Any) -> PgCursor:
        try:
            cursor = self.raw.cursor()  # raises too when the connection is closed
            cursor.executemany(translate(sql), [_params(r) for r in rows])
        except psycopg.errors.InsufficientPrivilege as exc:
            raise self.denied(exc, sql) from exc
        except psycopg.OperationalError as exc:
            raise self.classified(exc) from exc
        return PgCursor(cursor)

    def classified(self, exc: psycopg.OperationalError) -> psycopg.OperationalError:
        """A broken connection as ``ConnectionLostError``; the server's other refusals
        (disk full, a cancelled statement, a deadlock …) as they are (store/db_errors.py)."""
        return as_connection_lost(exc) if is_connection_loss(exc, self.raw) else exc

    def stream(self, sql: str, params: Any = ()) -> Iterator[Any]:
        """Rows one by one as the server sends them (nothing held): the connection
        serves nothing else until the iteration ends."""
        try:
            cursor = self.raw.cursor()
            yield from cursor.stream(translate(sql), _params(params))
        except psycopg.errors.InsufficientPrivilege as exc:
            raise self.denied(exc, sql) from exc
        except psycopg.OperationalError as exc:
            raise self.classified(exc) from exc

    def team_role(self) -> str | None:
        """The session's team role ('owner', 'admin' … 'viewer', '' for none), or None
        when it cannot be asked now (inside a failed transaction, or before schema 10)."""
        if self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            return None
        try:
            row = self.raw.execute("SELECT pushdeck_team_role()").fetchone()
        except psycopg.Error:
            return None
        return str(row[0]) if row is not None else None

    def denied(self, exc: psycopg.Error, sql: str) -> PermissionDeniedError:
        """SQLSTATE 42501 as a sentence: the role, and what it may not do."""
        return permission_denied(exc, sql, self.team_role())

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


#: What a refused statement was doing, by its first word.
_VERBS = {
    "select": "read", "insert": "add to", "update": "change", "delete": "delete from",
    "copy": "write to", "truncate": "empty",
}  # fmt: skip


def permission_denied(exc: psycopg.Error, sql: str, role: str | None) -> PermissionDeniedError:
    """A refusal (42501) as PermissionDeniedError: the team's own triggers and functions
    give a full sentence, kept as is; PostgreSQL's "permission denied for table X"
    becomes "your role R may not change X"."""
    primary = " ".join((exc.diag.message_primary or str(exc)).split())
    hint = exc.diag.message_hint or ""
    prefix = "permission denied for "
    if not primary.startswith(prefix):
        return PermissionDeniedError(primary, role=role, custom=primary, hint=hint)
    kind, _, name = primary.removeprefix(prefix).partition(" ")
    words = sql.lstrip().split(None, 1)
    verb = _VERBS.get(words[0].lower(), "use") if words else "use"
    if kind == "function":
        return PermissionDeniedError(f"call {name}", role=role, hint=hint)
    if kind == "schema":
        return PermissionDeniedError(f"use the workspace's schema {name}", role=role, hint=hint)
    return PermissionDeniedError(f"{verb} {name}", role=role, hint=hint)


def _params(params: Any) -> Any:
    # sqlite3 binds True as 1; PostgreSQL would refuse a boolean where an integer goes.
    if isinstance(params, tuple | list):
        return [int(p) if isinstance(p, bool) else p for p in params]
    return params


#: Seconds a connection attempt may take (``connect_timeout``) when the URI sets none.
_CONNECT_TIMEOUT = 10


def connect(uri: str) -> PgConnection:
    """Connect to ``uri``; a WorkspaceError naming the redacted URI when it cannot."""
    try:
        # A server that hangs (rather than refuses) must not hang a reconnecting worker
        # forever: 10 s unless the URI says otherwise (libpq's default waits for ever).
        timeout: dict[str, Any] = (
            {} if "connect_timeout" in uri else {"connect_timeout": _CONNECT_TIMEOUT}
        )
        conn = psycopg.connect(uri, autocommit=True, row_factory=_row_factory, **timeout)
    except psycopg.OperationalError as exc:
        raise _connect_error(uri, exc) from exc
    except psycopg.ProgrammingError as exc:  # an URI libpq cannot read
        raise WorkspaceError(
            f"Cannot read the workspace address {redact(uri)}: {_without(uri, str(exc))}.",
            hint="Give a PostgreSQL URI like postgresql://USER@HOST:5432/DBNAME.",
        ) from exc
    conn.adapters.register_loader("numeric", _NumberLoader)
    return PgConnection(conn)


def _without(uri: str, text: str) -> str:
    """``text`` with any password of ``uri`` blanked (error messages may quote it)."""
    password = urlsplit(uri).password
    query_passwords = [v for k, v in parse_qsl(urlsplit(uri).query) if k.lower() == "password"]
    for secret in [password, *query_passwords]:
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())


def _connect_error(uri: str, exc: psycopg.OperationalError) -> WorkspaceError:
    reason = _without(uri, str(exc))
    lowered = reason.lower()
    where = redact(uri)
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        hint = "Check the user name and password (the password is never shown here)."
    elif "does not exist" in lowered and "database" in lowered:
        hint = "Create the database first (createdb NAME), or check its name in the URI."
    elif "connection refused" in lowered or "no such file" in lowered or "could not" in lowered:
        hint = "Check that the PostgreSQL server is running and the host and port are right."
    else:
        hint = "Check the URI, the server and your access to the database."
    end = "" if reason.endswith((".", "?", "!")) else "."
    return WorkspaceError(f"Cannot open the workspace {where}: {reason}{end}", hint=hint)
