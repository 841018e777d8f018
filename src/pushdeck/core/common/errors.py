"""One error hierarchy for everything Pushdeck can fail at.

    PushdeckError                 every error a user may see; str() is fit to show
    ├── ConfigError               bad arguments, unknown app/segment/campaign names
    ├── ValidationError           bad input data (a row, a field, a file)
    ├── WorkspaceError            the SQLite file cannot be used (corrupt, newer, locked)
    ├── CredentialError           a key/certificate/service account is unusable
    │   └── KeyringUnavailableError  no usable OS keyring backend
    ├── PayloadError              a payload cannot be built (e.g. over the byte budget)
    ├── SegmentError              a segment rule is malformed
    ├── PermissionDeniedError     a team member's role may not do this (PostgreSQL, 42501)
    └── TransportError            the network failed (not a provider's answer)
        ├── ProviderTimeoutError  a request was written and not answered in time
        └── NotSentError          the request never reached the provider (DNS, refused,
                                  TLS handshake, nothing written): certainly not delivered

A provider *rejecting* a message is not an error: it is a ``SendResult``.
Messages say what failed, why, and what to do, in that order.
"""

from __future__ import annotations

import errno
import sqlite3


class PushdeckError(Exception):
    """Base of every user-facing Pushdeck error."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  → {self.hint}" if self.hint else self.message


class ConfigError(PushdeckError):
    """A wrong argument or a name that does not exist."""


class ValidationError(PushdeckError):
    """Input data failed a check; ``field`` names what was wrong."""

    def __init__(self, message: str, *, field: str = "", hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.field = field


class WorkspaceError(PushdeckError):
    """The workspace file cannot be opened or used."""


class CredentialError(PushdeckError):
    """A credential file or secret is unusable."""


class KeyringUnavailableError(CredentialError):
    """No OS keyring backend is usable; secrets are never stored in plain text instead."""


class PayloadError(PushdeckError):
    """A platform payload cannot be built from the message."""


class SegmentError(PushdeckError):
    """A segment rule is malformed: unknown field, wrong operator or wrong value type."""


class PermissionDeniedError(PushdeckError):
    """The shared workspace's database refused: the member's role may not do this.

    ``action`` says what was refused ("change credentials"); ``role`` is the member's
    role when known (None: not yet asked, the transaction that failed is rolled back
    first). ``custom`` is a full sentence the database itself gave (its own triggers
    and functions say exactly what is missing).
    """

    def __init__(
        self,
        action: str,
        *,
        role: str | None = None,
        custom: str = "",
        hint: str = "",
        ask: str = "an admin",
    ) -> None:
        self.action = action
        self.role = role
        self.custom = custom
        self.ask = ask
        if custom:
            message = custom
        else:
            named = f"your role {role}" if role else "your login"
            if role == "":
                named = "your login (not a member of this workspace)"
            message = f"{named[0].upper()}{named[1:]} may not {action}; ask {ask}."
        super().__init__(message, hint=hint)

    def for_role(self, role: str) -> PermissionDeniedError:
        """The same refusal naming ``role``."""
        return PermissionDeniedError(
            self.action, role=role, custom=self.custom, hint=self.hint, ask=self.ask
        )


class TransportError(PushdeckError):
    """The connection to a provider failed; nothing is known about delivery."""


class ProviderTimeoutError(TransportError):
    """The provider did not answer in time."""


class NotSentError(TransportError):
    """The request never reached the provider, so it was certainly not delivered.

    A name that does not resolve, a refused connection, a failed TLS handshake, or a
    request never written before its connection died. Sending it again cannot
    duplicate anything, unlike a ``TransportError`` after the request was written.
    """


#: errno values that mean "no room left" (EFBIG: a file size limit, RLIMIT_FSIZE).
_FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the disk, a quota or a size limit is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlite3.Error):
            if getattr(current, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                return True
        elif isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return True
        current = current.__cause__ or current.__context__
    return False


def is_storage_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is the workspace file or the disk failing: after
    one, a write may be half-done, so the app never promises that nothing changed."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlite3.Error | OSError):
            return True
        current = current.__cause__ or current.__context__
    return False
