"""The "Test connection" for a shared workspace: what is at a PostgreSQL URI, in plain words.

The app's connection form asks before it opens anything: is the server there, does it
take the password, does the database exist, is it a Pushdeck workspace (and one this
version can open)? ``probe`` answers with one ``Probe``: an ``outcome`` the form acts on
(offer to create the workspace when the database is empty) and a sentence for people.
Nothing is created or changed here; the connection is closed before returning.

libpq reports connection failures as text without an SQLSTATE (the server was never
reached, or refused before a session existed), so they are told apart by its messages,
which are stable across PostgreSQL versions (libpq's fe-connect.c and the server's
auth.c). Passwords never appear in an answer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import psycopg

from pushdeck.core.store import pg
from pushdeck.core.store.schema import SCHEMA_VERSION
from pushdeck.core.store.schema_pg import VERSION_KEY

#: Seconds the probe waits for a server that does not answer (libpq's connect_timeout).
CONNECT_TIMEOUT = 5


class Outcome(enum.Enum):
    READY = "ready"  # a Pushdeck workspace this version opens
    EMPTY = "empty"  # the database exists and holds nothing: a workspace can be created
    NEWER = "newer"  # a workspace written by a newer Pushdeck
    FOREIGN = "foreign"  # the database holds another program's tables
    UNREACHABLE = "unreachable"  # no server answered at that host and port / socket
    PASSWORD = "password"  # the server refused the user name or password
    NO_DATABASE = "no-database"  # the server has no database of that name
    TLS = "tls"  # the SSL mode asked for cannot be met
    OTHER = "other"


@dataclass(frozen=True)
class Probe:
    outcome: Outcome
    message: str  # one or two sentences for the user, never holding the password
    schema_version: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.READY


def probe(uri: str, *, timeout: int = CONNECT_TIMEOUT) -> Probe:
    """Connect to ``uri``, look, disconnect. Blocks up to ``timeout`` seconds: call it off
    the UI thread."""
    where = pg.redact(uri)
    try:
        conn = psycopg.connect(uri, autocommit=True, connect_timeout=timeout)
    except psycopg.OperationalError as exc:
        return _connect_failure(uri, where, exc)
    except psycopg.ProgrammingError as exc:  # libpq cannot read the address
        return Probe(Outcome.OTHER, f"The address {where} cannot be read: {_clean(uri, exc)}.")
    try:
        return _look(conn, where)
    except psycopg.Error as exc:
        return Probe(Outcome.OTHER, f"Connected to {where}, but: {_clean(uri, exc)}.")
    finally:
        conn.close()


def _look(conn: psycopg.Connection[tuple[object, ...]], where: str) -> Probe:
    # Connected, so the user knows where: the database's name reads better than the URI.
    where = f"“{conn.info.dbname}”"
    has_meta = conn.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()
    if not (has_meta and has_meta[0]):
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchone()
        if tables and tables[0]:
            return Probe(
                Outcome.FOREIGN,
                f"The database {where} holds tables of another program, not a Pushdeck "
                "workspace. Give an empty database for a new workspace.",
            )
        return Probe(
            Outcome.EMPTY,
            f"Connected. The database {where} is not a Pushdeck workspace yet: it is empty, "
            "so Pushdeck can create the workspace in it.",
        )
    row = conn.execute("SELECT value FROM meta WHERE key = %s", (VERSION_KEY,)).fetchone()
    version = int(str(row[0])) if row is not None and str(row[0]).isdigit() else None
    if version is None:
        return Probe(
            Outcome.OTHER,
            f"The database {where} has a meta table but no schema version Pushdeck can "
            "read: it was changed outside Pushdeck.",
        )
    if version > SCHEMA_VERSION:
        return Probe(
            Outcome.NEWER,
            f"The workspace {where} was written by a newer Pushdeck (schema {version}; this "
            f"version knows up to {SCHEMA_VERSION}). Upgrade Pushdeck to open it.",
            version,
        )
    older = " (an older schema: opening it upgrades it)" if version < SCHEMA_VERSION else ""
    return Probe(Outcome.READY, f"Connected: a Pushdeck workspace{older}.", version)


def _connect_failure(uri: str, where: str, exc: psycopg.OperationalError) -> Probe:
    text = _clean(uri, exc)
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return Probe(
            Outcome.PASSWORD,
            "The server refused the password (or the user name). Check both; an admin can "
            "reset the password with ALTER ROLE.",
        )
    if "role" in lowered and "does not exist" in lowered:
        return Probe(Outcome.PASSWORD, f"The server has no user of that name: {text}.")
    if "database" in lowered and "does not exist" in lowered:
        return Probe(
            Outcome.NO_DATABASE,
            "The server answered, but has no database of that name. Create it first "
            "(createdb NAME, or CREATE DATABASE) or check the name.",
        )
    if "ssl" in lowered or "certificate" in lowered:
        return Probe(Outcome.TLS, f"The secure connection (SSL) failed: {text}.")
    if any(
        words in lowered
        for words in (
            "connection refused",
            "no such file or directory",  # no socket in that folder
            "could not translate host name",
            "timeout expired",
            "could not connect",
            "network is unreachable",
            "no route to host",
        )
    ):
        return Probe(
            Outcome.UNREACHABLE,
            f"No PostgreSQL server answered at {where}. Check the host (or socket folder) "
            "and port, and that the server is running and accepts connections from here.",
        )
    return Probe(Outcome.OTHER, f"Could not connect to {where}: {text}.")


def _clean(uri: str, exc: BaseException) -> str:
    return pg._without(uri, str(exc)).rstrip(". ")
