"""Which of an app's credentials this machine can actually send with.

On a shared (PostgreSQL) workspace the ``credentials`` rows are shared: everyone sees that
app X has an APNs key. The secrets are not: each lives in the keyring of the machine where
someone entered it. A member whose keyring lacks one can compose, preview and review, but
not send through that provider; the review and the Apps & credentials page say so with
``missing_secret_message`` (and the CLI's error too), and the app disables Send.

A sandbox credential has no secret: it is always usable. With no usable keyring at all,
every other credential counts as missing here.
"""

from __future__ import annotations

from dataclasses import dataclass

import keyring.errors

from pushdeck.core.common.errors import KeyringUnavailableError
from pushdeck.core.credentials.secrets import (
    SERVICE,
    CredentialRecord,
    SecretBackend,
    keyring_backend,
    list_records,
)
from pushdeck.core.store.workspace import Workspace

#: What the secret of each credential kind is called, for people.
SECRET_NAMES = {
    "apns-token": "APNs key",
    "apns-cert": "APNs certificate",
    "fcm": "FCM service account",
    "webpush": "Web Push (VAPID) key",
}


@dataclass(frozen=True)
class MissingSecret:
    app: str
    provider: str  # "apns", "fcm", "webpush"
    kind: str

    @property
    def message(self) -> str:
        return missing_secret_message(self.app, self.kind)


def missing_secret_message(app: str, kind: str) -> str:
    what = SECRET_NAMES.get(kind, f"{kind} secret")
    return (
        f"This machine has no {what} for app “{app}” — ask an admin to add it here "
        "(Apps & credentials → Add or replace a credential), or send from a machine that "
        "has it."
    )


def has_secret(record: CredentialRecord, backend: SecretBackend | None = None) -> bool:
    """Whether this machine's keyring holds ``record``'s secret (sandbox: always)."""
    if record.kind == "sandbox":
        return True
    if backend is None:
        from pushdeck.core.credentials.folder import configured_folder

        folder = configured_folder()
        if folder is not None:  # a worker's credentials folder replaces the keyring
            return folder.has(record.keyring_username)
    try:
        store = backend or keyring_backend()
        return store.get_password(SERVICE, record.keyring_username) is not None
    except (KeyringUnavailableError, keyring.errors.KeyringError):
        return False  # a keyring that cannot answer holds nothing we can send with


def missing_here(
    ws: Workspace, app: str | None = None, backend: SecretBackend | None = None
) -> list[MissingSecret]:
    """The credentials of ``app`` (every app when None) whose secret this machine lacks."""
    return [
        MissingSecret(r.app, r.provider.value, r.kind)
        for r in list_records(ws, app)
        if not has_secret(r, backend)
    ]
