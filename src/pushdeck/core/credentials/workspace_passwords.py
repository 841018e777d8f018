"""Shared workspaces' database passwords, kept in the OS keyring (the app's connection form).

The app remembers a shared workspace by its URI *without* the password, plus a keyring
reference; the password itself is written only to the keyring, under its own service name
so that it never mixes with a workspace's provider credentials. The keyring rule is the
credentials' one (``secrets.keyring_backend``): no usable keyring means the password is not
remembered, never written in plain text unless the user chose such a backend.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

import keyring.errors

from pushdeck.core.common.errors import KeyringUnavailableError
from pushdeck.core.credentials.secrets import NO_KEYRING_HINT, SecretBackend, keyring_backend

SERVICE = "Pushdeck shared workspace"


def without_password(uri: str) -> str:
    """``uri`` with no password at all (not even ``***``): what the app may keep and show."""
    parts = urlsplit(uri)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}@{host}"
    query = "&".join(
        p for p in parts.query.split("&") if p and not p.lower().startswith("password=")
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def with_password(uri: str, password: str) -> str:
    """``uri`` (as ``without_password`` gives it) with ``password`` in its user info."""
    if not password:
        return uri
    parts = urlsplit(uri)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        userinfo, host = "", parts.netloc
    netloc = f"{userinfo}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def keyring_reference(uri: str) -> str:
    """The keyring user name the password of ``uri`` is kept under (its passwordless URI)."""
    return without_password(uri)


def remember_password(uri: str, password: str, backend: SecretBackend | None = None) -> str:
    """Keep ``password`` for ``uri`` in the keyring; return the reference to store.

    KeyringUnavailableError when no usable keyring exists (the caller says the password
    will be asked again next time).
    """
    reference = keyring_reference(uri)
    store = backend or keyring_backend()
    try:
        store.set_password(SERVICE, reference, password)
    except keyring.errors.KeyringError as exc:
        raise KeyringUnavailableError(
            f"The keyring refused to keep the workspace password ({exc}).", hint=NO_KEYRING_HINT
        ) from exc
    return reference


def stored_password(reference: str, backend: SecretBackend | None = None) -> str | None:
    """The password kept under ``reference``; None when there is none or no usable keyring."""
    try:
        store = backend or keyring_backend()
        return store.get_password(SERVICE, reference)
    except (KeyringUnavailableError, keyring.errors.KeyringError):
        return None


def forget_password(reference: str, backend: SecretBackend | None = None) -> None:
    try:
        (backend or keyring_backend()).delete_password(SERVICE, reference)
    except (KeyringUnavailableError, keyring.errors.KeyringError):
        pass  # nothing kept, or nowhere to keep it: nothing to forget
