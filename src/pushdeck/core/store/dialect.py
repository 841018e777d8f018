"""Where SQLite and PostgreSQL differ: the few SQL fragments the store asks for.

Store SQL is written once, with ``?`` placeholders, in the subset both backends share;
the PostgreSQL connection turns ``?`` into ``%s`` (store/pg.py). Where the two differ,
a store module asks ``ws.dialect`` for the fragment. The whole list of differences:

- ``INSERT OR IGNORE`` / ``INSERT OR REPLACE`` (SQLite) are ``ON CONFLICT DO NOTHING`` /
  ``DO UPDATE`` on PostgreSQL (``insert_ignore``, ``replace_meta``).
- Scalar ``max(a, b)`` is ``GREATEST(a, b)`` (``greatest``).
- ``IS NOT`` between values is ``IS DISTINCT FROM`` (``is_not``).
- A JSON array parameter as a set of values: ``json_each(?)`` or
  ``jsonb_array_elements_text(?)`` (``json_texts``, ``json_ints``).
- Reading inside a JSON text column: ``json_extract`` or a ``jsonb`` cast
  (``json_text_field``, ``json_set_key``); the segment compiler's attribute rules have
  their own PostgreSQL form in store/segment_rules.py.
- ``LIKE``: SQLite's ignores the case of ASCII letters only; on PostgreSQL both sides
  go through ``translate`` of A-Z to a-z, which is exactly that (``like``).
- A timestamp plus seconds, or as seconds since 1970: ``strftime`` with a modifier, or
  an interval (``plus_seconds``, ``epoch_seconds``).
- Where NULLs sort: first going up in SQLite, last in PostgreSQL (``order``).
- SQLite's ``INDEXED BY`` hint (``indexed_by``); ``lower``, which SQLite applies to ASCII
  letters only (``ascii_lower``).
- Checking and then writing atomically: SQLite's ``BEGIN IMMEDIATE`` already admits one
  writer; PostgreSQL runs READ COMMITTED, so the store locks a row (``for_update``) or
  takes a transaction-scoped advisory lock (``lock``).

Text columns on PostgreSQL use the "C" collation, so ``=``, ``<`` and ``ORDER BY``
compare code points as SQLite's BINARY collation does; timestamps stay ISO-8601 text.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Protocol

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: The URI schemes of a PostgreSQL workspace (libpq's two; any letter case).
POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_postgres_uri(value: object) -> bool:
    """Whether ``value`` is a ``postgresql://`` (or ``postgres://``) URI string."""
    if not isinstance(value, str) or "://" not in value:
        return False
    return value.split("://", 1)[0].lower() in POSTGRES_SCHEMES


class _Executes(Protocol):
    def execute(self, sql: str, params: Any = ..., /) -> Any: ...


@dataclass(frozen=True)
class Dialect:
    """The SQL fragments of one backend (``SQLITE`` or ``POSTGRES``)."""

    name: str

    @property
    def is_sqlite(self) -> bool:
        return self.name == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.name == "postgresql"

    def insert_ignore(self, rest: str, conflict: str = "") -> str:
        """``INSERT … rest`` skipping rows that break a unique constraint.

        ``rest`` starts with ``INTO``; ``conflict`` is the conflict target on PostgreSQL
        (``"(tag, device_id)"``; empty: any constraint).
        """
        if self.is_sqlite:
            return f"INSERT OR IGNORE {rest}"
        return f"INSERT {rest} ON CONFLICT {conflict} DO NOTHING"

    def replace_meta(self) -> str:
        """Set ``meta``'s key to a value (parameters: key, value)."""
        if self.is_sqlite:
            return "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"
        return (
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
        )

    def greatest(self, a: str, b: str) -> str:
        return f"max({a}, {b})" if self.is_sqlite else f"GREATEST({a}, {b})"

    def is_not(self) -> str:
        """The null-safe 'differs' operator."""
        return "IS NOT" if self.is_sqlite else "IS DISTINCT FROM"

    def json_texts(self, param: str = "?") -> str:
        """A subquery of the strings of the JSON array ``param``."""
        if self.is_sqlite:
            return f"SELECT value FROM json_each({param})"
        return f"SELECT value FROM jsonb_array_elements_text(CAST({param} AS jsonb)) AS t(value)"

    def json_ints(self, param: str = "?") -> str:
        """A subquery of the integers of the JSON array ``param``."""
        if self.is_sqlite:
            return f"SELECT value FROM json_each({param})"
        return (
            "SELECT CAST(value AS bigint) FROM"
            f" jsonb_array_elements_text(CAST({param} AS jsonb)) AS t(value)"
        )

    def json_text_field(self, column: str, key: str) -> str:
        """The top-level ``key`` of the JSON object in ``column`` (``key``: a safe name).

        On PostgreSQL only text that starts as an object is cast: the planner may test
        this on rows another condition rules out (meta's plain values), and a failed cast
        is an error there.
        """
        if self.is_sqlite:
            return f"json_extract({column}, '$.{key}')"
        return f"(CASE WHEN left({column}, 1) = '{{' THEN CAST({column} AS jsonb) ->> '{key}' END)"

    def json_set_key(self, column: str, key: str, param: str = "?") -> str:
        """``column``'s JSON object with ``key`` set to the JSON text ``param``."""
        if self.is_sqlite:
            return f"json_set({column}, '$.{key}', json({param}))"
        return (
            f"CAST(jsonb_set(CAST({column} AS jsonb), '{{{key}}}', CAST({param} AS jsonb)) AS text)"
        )

    def like(self, expr: str, param: str = "?") -> str:
        """``expr LIKE param ESCAPE '\\'`` ignoring the case of ASCII letters only."""
        if self.is_sqlite:
            return f"{expr} LIKE {param} ESCAPE '\\'"
        return (
            f"translate({expr}, '{_UPPER}', '{_UPPER.lower()}')"
            f" LIKE translate({param}, '{_UPPER}', '{_UPPER.lower()}') ESCAPE '\\'"
        )

    def plus_seconds(self, expr: str, param: str = "?") -> str:
        """The timestamp text ``expr`` plus ``param`` (text like '+30 seconds'), as text."""
        if self.is_sqlite:
            return f"strftime('%Y-%m-%dT%H:%M:%SZ', {expr}, {param})"
        return (
            f"to_char(CAST({expr} AS timestamp) + CAST({param} AS interval),"
            ' \'YYYY-MM-DD"T"HH24:MI:SS"Z"\')'
        )

    def epoch_seconds(self, expr: str) -> str:
        """The timestamp text ``expr`` as whole seconds since 1970 (UTC)."""
        if self.is_sqlite:
            return f"CAST(strftime('%s', {expr}) AS INTEGER)"
        return f"CAST(extract(epoch FROM CAST({expr} AS timestamp)) AS bigint)"

    def indexed_by(self, index: str) -> str:
        """SQLite's planner hint naming an index (PostgreSQL plans without one)."""
        return f" INDEXED BY {index}" if self.is_sqlite else ""

    def ascii_lower(self, expr: str) -> str:
        """``expr`` with A-Z lowered and every other letter kept (SQLite's ``lower``)."""
        if self.is_sqlite:
            return f"lower({expr})"
        return f"translate({expr}, '{_UPPER}', '{_UPPER.lower()}')"

    def order(self, direction: str) -> str:
        """``ASC``/``DESC`` placing NULLs as SQLite does: first going up, last going down
        (PostgreSQL's default is the reverse)."""
        if self.is_sqlite:
            return direction
        return f"{direction} NULLS {'FIRST' if direction == 'ASC' else 'LAST'}"

    def for_update(self) -> str:
        """Appended to a SELECT inside a transaction that writes based on what it read."""
        return "" if self.is_sqlite else " FOR UPDATE"

    def lock(self, conn: _Executes, key: str) -> None:
        """Inside a transaction: wait until no other transaction holds ``key``.

        SQLite's ``BEGIN IMMEDIATE`` already admitted only this writer.
        """
        if self.is_postgres:
            conn.execute("SELECT pg_advisory_xact_lock(?, ?)", (LOCK_SPACE, lock_id(key)))


#: The first half of every advisory lock Pushdeck takes ('PSHD', as SQLite's application id).
LOCK_SPACE = 0x50534844  # below 2**31: a signed 32-bit int, as the lock functions take
#: The advisory lock key held while a PostgreSQL workspace's schema is created or migrated.
SCHEMA_LOCK = "schema"


def lock_id(key: str) -> int:
    """A stable signed 32-bit number for ``key`` (the second half of an advisory lock)."""
    value = zlib.crc32(key.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


SQLITE = Dialect("sqlite")
POSTGRES = Dialect("postgresql")
