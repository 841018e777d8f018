"""Where a workspace lives: one rule for ``--workspace``, ``PUSHDECK_WORKSPACE`` and the app.

A value is one of:

- ``postgresql://…`` or ``postgres://…`` (libpq's two URI prefixes, any letter case): a
  shared workspace in a PostgreSQL database. Not available in this version yet: asking for
  one is a clear error, and nothing is created anywhere.
- anything else that looks like a URI, ``scheme://…`` with a scheme of two letters or more
  (one letter is a Windows drive, ``C://x``), and any ``file:`` URI: refused, naming the
  accepted forms. Before this rule, ``postgresql://u:p@host/db`` silently became a local
  SQLite file at ``./postgresql:/u:p@host/db``. ``file:`` is refused rather than read as a
  path so that a workspace has one spelling per backend (SQLite's own URI filenames, with
  their ``?mode=`` options, are not Pushdeck's to interpret); the error names the path.
- a libpq ``key=value`` connection string (``host=db dbname=team``): refused too, with the
  URI to write instead. It starts with a libpq keyword and ``=``; a file really named like
  that is reached as ``./host=…``.
- everything else: a path to a SQLite workspace file (``~`` expanded).

Passwords never appear in messages: ``redacted()`` replaces them (in the URI's user info
and in ``password=`` parameters) with ``***``. No SQL and no Qt here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pushdeck.core.common.errors import ConfigError
from pushdeck.core.common.paths import WORKSPACE_ENV, data_dir

POSTGRES_SCHEMES = ("postgresql", "postgres")
ACCEPTED_FORMS = "a workspace file path (e.g. team.pushdeck) or a postgresql:// URI"
#: ``scheme://``: a letter, then one or more letters, digits, "+", "." or "-" (RFC 3986).
_URI_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+)://")
_FILE_URI = re.compile(r"^file:", re.IGNORECASE)
#: The libpq keywords a key=value connection string most likely starts with.
_LIBPQ_KEYWORDS = (
    "host|hostaddr|port|dbname|user|password|passfile|service|sslmode|connect_timeout"
    "|application_name|options|target_session_attrs|client_encoding"
)
_KEYWORD_STRING = re.compile(rf"^\s*(?:{_LIBPQ_KEYWORDS})\s*=", re.IGNORECASE)
_KEYWORD_PASSWORD = re.compile(r"(\b\w*password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&][^=&#]*password=)([^&#]*)", re.IGNORECASE)


class WorkspaceLocationError(ConfigError):
    """A workspace value that names no workspace this version can open."""


class SharedWorkspaceUnavailableError(WorkspaceLocationError):
    """A PostgreSQL workspace was asked for; this version has only SQLite files."""


def redact(text: str) -> str:
    """``text`` with any password in it (URI user info, ``password=``) replaced by ``***``."""
    match = _URI_PREFIX.match(text)
    if match:
        rest = text[match.end() :]
        # Everything up to the last "@" counts as user info: a password with an unencoded
        # "/", "?" or "@" in it is still hidden whole (over-hiding is harmless here).
        at = rest.rfind("@")
        if at >= 0 and ":" in rest[:at]:
            user = rest[: rest.index(":")]
            rest = f"{user}:***{rest[at:]}"
        return match.group(0) + _QUERY_PASSWORD.sub(r"\1***", rest)
    return _KEYWORD_PASSWORD.sub(r"\1***", text)


@dataclass(frozen=True)
class SqliteLocation:
    """A workspace file on this machine."""

    path: Path

    def redacted(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class PostgresLocation:
    """A shared workspace in a PostgreSQL database, as the libpq URI the user gave."""

    uri: str = field(repr=False)  # may hold a password: never in a repr or a message

    def redacted(self) -> str:
        return redact(self.uri)

    def __str__(self) -> str:
        return self.redacted()

    def __repr__(self) -> str:
        return f"PostgresLocation({self.redacted()!r})"


WorkspaceLocation = SqliteLocation | PostgresLocation


def parse_workspace_location(value: str, *, given_as: str = "--workspace") -> WorkspaceLocation:
    """The location ``value`` names; ``given_as`` says where it came from, for messages."""
    shown = f"{given_as} {redact(value)}"
    if given_as == WORKSPACE_ENV:
        shown = f"{WORKSPACE_ENV}={redact(value)}"
    uri = _URI_PREFIX.match(value)
    if uri:
        scheme = uri.group(1).lower()
        if scheme in POSTGRES_SCHEMES:
            return PostgresLocation(scheme + value[len(scheme) :])
        if scheme == "file":
            raise WorkspaceLocationError(
                f"{shown} is a file URL, not a workspace location: give the path itself"
                f" ({_file_url_path(value)}) or a postgresql:// URI."
            )
        raise WorkspaceLocationError(
            f"{shown} is not a workspace location ({scheme}:// is not supported):"
            f" give {ACCEPTED_FORMS}."
        )
    if _FILE_URI.match(value):
        raise WorkspaceLocationError(
            f"{shown} is a file URL, not a workspace location: give {ACCEPTED_FORMS}"
            " (./file:… for a file really named so)."
        )
    if _KEYWORD_STRING.match(value):
        raise WorkspaceLocationError(
            f"{shown} looks like a libpq key=value connection string: give it as a URI,"
            " postgresql://USER@HOST:PORT/DBNAME (or ./NAME for a file really named so)."
        )
    return SqliteLocation(Path(value).expanduser())


def resolve_workspace_location(
    given: str | None, environ: Mapping[str, str] | None = None
) -> WorkspaceLocation:
    """``given`` (``--workspace``), else ``$PUSHDECK_WORKSPACE``, else the default file in
    the user's data directory. An empty value counts as not given."""
    if given:
        return parse_workspace_location(given)
    env = (os.environ if environ is None else environ).get(WORKSPACE_ENV)
    if env:
        return parse_workspace_location(env, given_as=WORKSPACE_ENV)
    return SqliteLocation(data_dir() / "workspace.pushdeck")


def local_workspace_path(location: WorkspaceLocation) -> Path:
    """The file of a SQLite workspace; a PostgreSQL one is refused (not in this version)."""
    if isinstance(location, PostgresLocation):
        raise SharedWorkspaceUnavailableError(
            "PostgreSQL workspaces are not available in this version yet"
            f" ({location.redacted()}): use a workspace file (a path such as team.pushdeck)."
        )
    return location.path


def _file_url_path(url: str) -> str:
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.netloc and parts.netloc != "localhost":
        return f"//{parts.netloc}{path}"
    return path or "the file's path"
