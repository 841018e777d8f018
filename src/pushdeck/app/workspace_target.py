"""What the window opens: a workspace file, or a shared workspace on a PostgreSQL server.

A ``SharedWorkspace`` is its URI *without* the password (what the window shows and the
settings remember) plus, in memory only, the password: typed in the connection form, or
read from this machine's keyring on the worker thread when a recent shared workspace is
reopened (``resolve``). Its ``repr`` and ``str`` never hold the password, so neither a
status message nor a log line can leak it. No widgets here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from pushdeck.core.credentials.workspace_passwords import (
    keyring_reference,
    remember_password,
    stored_password,
    with_password,
    without_password,
)
from pushdeck.core.store.pg import is_postgres_uri


@dataclass(frozen=True)
class SharedWorkspace:
    """A PostgreSQL workspace. ``uri`` has no password; ``password`` stays in memory."""

    uri: str
    password: str = field(default="", repr=False, compare=False)
    #: Create the workspace when the database is empty (the form's "Create" answer).
    create: bool = False
    #: Keep the password in this machine's keyring once it opened (the form's choice).
    remember: bool = False
    #: Where its password is kept (the recent list's reference); '' for the usual place.
    keyring_ref: str = ""

    @classmethod
    def from_uri(cls, uri: str, *, create: bool = False) -> SharedWorkspace:
        """Split a libpq URI that may hold a password (``--workspace postgresql://…``)."""
        parts = urlsplit(uri)
        password = unquote(parts.password or "")
        for key, value in parse_qsl(parts.query):
            if key.lower() == "password":
                password = value
        return cls(without_password(uri), password, create=create)

    @property
    def live_uri(self) -> str:
        """The URI to connect with (holds the password: never show or keep it)."""
        return with_password(self.uri, self.password)

    @property
    def keyring_reference(self) -> str:
        return self.keyring_ref or keyring_reference(self.uri)

    def resolve(self) -> SharedWorkspace:
        """With the password from the keyring when none was given (worker thread: the
        keyring may take a moment). No password anywhere: connect without one (a Unix
        socket with peer or trust authentication needs none)."""
        if self.password:
            return self
        return replace(self, password=stored_password(self.keyring_reference) or "")

    def keep_password(self) -> str:
        """Keep the password in the keyring if asked; '' or a sentence saying why not."""
        if not (self.remember and self.password):
            return ""
        from pushdeck.core.common.errors import KeyringUnavailableError

        try:
            remember_password(self.uri, self.password)
        except KeyringUnavailableError as exc:
            return f"The password was not remembered ({exc.message}); it is asked again next time."
        return ""

    @property
    def host(self) -> str:
        parts = urlsplit(self.uri)
        query = dict(parse_qsl(parts.query))
        host = parts.hostname or query.get("host", "") or "localhost"
        if host.startswith("/"):  # a Unix socket's folder: the server runs on this machine
            return "this machine"
        port = parts.port or query.get("port")
        return f"{host}:{port}" if port else host

    @property
    def database(self) -> str:
        parts = urlsplit(self.uri)
        return unquote(parts.path.lstrip("/")) or dict(parse_qsl(parts.query)).get("dbname", "")

    @property
    def title(self) -> str:
        """For the window title and the status bar: "team on db.example.com"."""
        return f"{self.database or '(default database)'} on {self.host}"

    def __str__(self) -> str:
        return self.uri


WorkspaceTarget = Path | SharedWorkspace


def target_from_text(text: str) -> WorkspaceTarget:
    """A recent-workspaces entry or a --workspace value, as what to open."""
    if is_postgres_uri(text):
        return SharedWorkspace.from_uri(text)
    return Path(text)


def open_argument(target: WorkspaceTarget) -> Path | str:
    """What ``Workspace.open`` takes for ``target`` (a file, or the URI with its password)."""
    return target.live_uri if isinstance(target, SharedWorkspace) else target


def target_title(target: WorkspaceTarget) -> str:
    return target.title if isinstance(target, SharedWorkspace) else target.name


def target_label(target: WorkspaceTarget) -> str:
    """The status bar's name of the workspace (a shared one says so)."""
    if isinstance(target, SharedWorkspace):
        return f"Shared: {target.title}"
    return target.name
