"""Credentials: secrets in the OS keyring, non-secret facts in the workspace.

The workspace's ``credentials`` row holds the keyring reference (service and user
name) and the facts worth showing (key id, expiry, project id, VAPID public key).
The secret itself (the .p8, the .p12 and its password, the service account's
private key, the VAPID private key) is written only to the keyring. When no
usable keyring backend exists we refuse, with the fixes named; we never fall back
to storing secrets in plain text.

"Usable" is stricter than what the keyring library picks by itself: with
``keyrings.alt`` installed and no Secret Service running, it selects a file backend
that keeps secrets unencrypted. Backends that keep secrets in plain text are refused
unless the user chose one explicitly with ``PYTHON_KEYRING_BACKEND`` (then a warning,
once per process); backends that store nothing (null, fail) are always refused.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import keyring
import keyring.errors
from keyring.backend import KeyringBackend
from keyring.backends.chainer import ChainerBackend

from pushdeck.core.common.errors import ConfigError, CredentialError, KeyringUnavailableError
from pushdeck.core.common.model import ApnsEnvironment, ProviderKind
from pushdeck.core.providers.base import Provider
from pushdeck.core.providers.credentials import (
    ApnsCertCredential,
    ApnsTokenCredential,
    Credential,
    FcmCredential,
    SandboxCredential,
    WebPushCredential,
)
from pushdeck.core.store import credentials as credential_store
from pushdeck.core.store.apps import get_app
from pushdeck.core.store.workspace import Row, Workspace

SERVICE = "Pushdeck"

NO_KEYRING_HINT = (
    "Pushdeck keeps credentials only in the OS keyring and found none usable. Fixes: on Linux "
    "install and unlock a Secret Service (GNOME Keyring or KeePassXC with Secret Service "
    "enabled) in your desktop session; on a headless server run inside 'dbus-run-session' "
    "with 'gnome-keyring-daemon --unlock'; or choose another backend with the "
    "PYTHON_KEYRING_BACKEND environment variable (see 'keyring --list-backends'). "
    "Pushdeck never stores secrets in plain text unless you choose such a backend."
)


class SecretBackend(Protocol):
    def get_password(self, service: str, username: str) -> str | None: ...
    def set_password(self, service: str, username: str, password: str) -> None: ...
    def delete_password(self, service: str, username: str) -> None: ...


_log = logging.getLogger(__name__)
_warned_plaintext = False
#: Backends that keep secrets unencrypted in a file (any class named like these too).
PLAINTEXT_BACKENDS = frozenset(
    {"keyrings.alt.file.PlaintextKeyring", "keyrings.alt.pyfs.PlaintextKeyring"}
)
#: Backends that store nothing: a secret "saved" there is gone.
EMPTY_BACKENDS = frozenset({"keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"})


def _dotted(backend: KeyringBackend) -> str:
    return type(backend).__module__ + "." + type(backend).__name__


def _keeps_plaintext(backend: KeyringBackend) -> bool:
    name = type(backend).__name__.lower()
    return _dotted(backend) in PLAINTEXT_BACKENDS or "plaintext" in name or "uncrypted" in name


def _stores_nothing(backend: KeyringBackend) -> bool:
    return _dotted(backend) in EMPTY_BACKENDS or float(backend.priority) <= 0


def _chosen_explicitly(backend: KeyringBackend) -> bool:
    chosen = os.environ.get("PYTHON_KEYRING_BACKEND", "").strip()
    return bool(chosen) and chosen.rsplit(".", 1)[-1] == type(backend).__name__


def keyring_backend() -> KeyringBackend:
    """The usable OS keyring backend, or KeyringUnavailableError naming the fixes.

    When keyring chains several backends, the first one that keeps secrets encrypted is
    used; a plain-text backend only when ``PYTHON_KEYRING_BACKEND`` names it.
    """
    global _warned_plaintext
    backend = keyring.get_keyring()
    chain = list(backend.backends) if isinstance(backend, ChainerBackend) else [backend]
    for candidate in chain:  # highest priority first
        if _stores_nothing(candidate):
            continue
        if not _keeps_plaintext(candidate):
            return candidate
        if _chosen_explicitly(candidate):
            if not _warned_plaintext:
                _warned_plaintext = True
                where = getattr(candidate, "file_path", "") or "a file"
                _log.warning(
                    "PYTHON_KEYRING_BACKEND chose %s: Pushdeck's credentials are stored "
                    "UNENCRYPTED in %s, readable by anything that can read that file.",
                    _dotted(candidate),
                    where,
                )
            return candidate
    plaintext = [_dotted(b) for b in chain if _keeps_plaintext(b)]
    if plaintext:
        raise KeyringUnavailableError(
            f"No usable OS keyring was found: the only backend available, {plaintext[0]}, "
            "keeps secrets unencrypted in a file, and Pushdeck does not store credentials "
            "there unless you choose it.",
            hint=f"{NO_KEYRING_HINT} To accept plain text anyway, set "
            f"PYTHON_KEYRING_BACKEND={plaintext[0]}.",
        )
    raise KeyringUnavailableError("No usable OS keyring was found.", hint=NO_KEYRING_HINT)


def backend_name() -> str:
    """A short, human name of the keyring backend (for the status bar), or why none."""
    try:
        backend = keyring_backend()
    except KeyringUnavailableError:
        return "no keyring available"
    return str(getattr(backend, "name", type(backend).__name__))


@dataclass(frozen=True)
class CredentialRecord:
    """What the workspace knows about a stored credential (no secrets)."""

    app: str
    provider: ProviderKind
    kind: str  # apns-token, apns-cert, fcm, webpush, sandbox
    facts: dict[str, Any]
    endpoint: str
    ca_file: str
    keyring_username: str


def workspace_id(ws: Workspace) -> str:
    """A stable id of this workspace, so that two workspaces never share keyring entries."""
    value = credential_store.workspace_id(ws)
    if value is None:
        value = str(uuid.uuid4())
        credential_store.save_workspace_id(ws, value)
    return value


def store_credential(
    ws: Workspace,
    app: str,
    provider: ProviderKind,
    kind: str,
    secret: dict[str, Any] | None,
    facts: dict[str, Any],
    *,
    endpoint: str = "",
    ca_file: str = "",
    backend: SecretBackend | None = None,
) -> CredentialRecord:
    """Write the secret to the keyring, then the reference and facts to the workspace."""
    app_id = get_app(ws, app).id
    username = f"{workspace_id(ws)}/{app}/{provider.value}"
    if secret is not None:
        store = backend or keyring_backend()
        try:
            store.set_password(SERVICE, username, json.dumps(secret))
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailableError(
                f"The keyring refused to store the secret ({exc}).", hint=NO_KEYRING_HINT
            ) from exc
    credential_store.upsert_credential(
        ws,
        app_id=app_id,
        provider=provider.value,
        kind=kind,
        keyring_service=SERVICE,
        keyring_username=username,
        facts_json=json.dumps(facts),
        endpoint=endpoint,
        ca_file=ca_file,
    )
    return get_record(ws, app, provider)


def _row_to_record(row: Row) -> CredentialRecord:
    return CredentialRecord(
        app=row["app"],
        provider=ProviderKind(row["provider"]),
        kind=row["kind"],
        facts=json.loads(row["facts"]),
        endpoint=row["endpoint"],
        ca_file=row["ca_file"],
        keyring_username=row["keyring_username"],
    )


def list_records(ws: Workspace, app: str | None = None) -> list[CredentialRecord]:
    return [_row_to_record(r) for r in credential_store.credential_rows(ws, app)]


def get_record(ws: Workspace, app: str, provider: ProviderKind) -> CredentialRecord:
    row = credential_store.credential_row(ws, app, provider.value)
    if row is None:
        raise ConfigError(
            f"App {app!r} has no {provider.value} credential.",
            hint=f"Add one with 'pushdeck credentials set-{_verb(provider)} {app} …'.",
        )
    return _row_to_record(row)


def _verb(provider: ProviderKind) -> str:
    return {"apns": "apns", "fcm": "fcm", "webpush": "webpush"}.get(provider.value, "sandbox")


def remove_credential(
    ws: Workspace, app: str, provider: ProviderKind, backend: SecretBackend | None = None
) -> None:
    record = get_record(ws, app, provider)
    if record.kind != "sandbox":
        try:
            (backend or keyring_backend()).delete_password(SERVICE, record.keyring_username)
        except keyring.errors.PasswordDeleteError:
            pass  # already gone from the keyring; still forget the reference
    credential_store.delete_credential(ws, app, provider.value)


def read_secret(reference: str, backend: SecretBackend | None = None) -> str | None:
    """A secret's JSON: from ``backend`` if given, else from the worker's credentials
    folder when ``PUSHDECK_CREDENTIALS_DIR`` is set (clear errors there, never the
    keyring instead), else from the keyring (None when it lacks it)."""
    if backend is None:
        from pushdeck.core.credentials.folder import configured_folder

        folder = configured_folder()
        if folder is not None:
            return folder.read(reference)
    return (backend or keyring_backend()).get_password(SERVICE, reference)


def load_credential(
    ws: Workspace, app: str, provider: ProviderKind, backend: SecretBackend | None = None
) -> Credential:
    """Assemble the credential a provider needs, reading the secret from the keyring."""
    record = get_record(ws, app, provider)
    if record.kind == "sandbox":
        return SandboxCredential(**record.facts.get("behaviour", {}))
    raw = read_secret(record.keyring_username, backend)
    if raw is None:
        from pushdeck.core.credentials.on_this_machine import missing_secret_message

        # On a shared workspace the row is everyone's, the secret only some machines'.
        raise CredentialError(
            missing_secret_message(app, record.kind),
            hint=f"Enter it here with 'pushdeck credentials set-{_verb(provider)} {app} …'.",
        )
    return _assemble(ws, record, json.loads(raw))


def _assemble(ws: Workspace, record: CredentialRecord, secret: dict[str, Any]) -> Credential:
    app = get_app(ws, record.app)
    env = ApnsEnvironment(record.facts.get("environment", "production"))
    if record.kind == "apns-token":
        return ApnsTokenCredential(
            secret["key_pem"].encode(),
            record.facts["key_id"],
            record.facts["team_id"],
            app.apns_topic,
            env,
            record.endpoint,
            record.ca_file,
        )
    if record.kind == "apns-cert":
        password = secret.get("password")
        return ApnsCertCredential(
            base64.b64decode(secret["p12"]),
            password.encode() if password is not None else None,
            record.facts.get("topic") or app.apns_topic,
            env,
            record.endpoint,
            record.ca_file,
        )
    if record.kind == "fcm":
        return FcmCredential(secret["service_account"], record.endpoint, record.ca_file)
    if record.kind == "webpush":
        return WebPushCredential(
            secret["private_key_pem"].encode(),
            record.facts["public_key"],
            record.facts["subject"],
            record.ca_file,
        )
    raise CredentialError(f"Unknown credential kind {record.kind!r} in the workspace.")


def open_providers(ws: Workspace, app: str) -> dict[ProviderKind, Provider]:
    """A ready provider for every credential ``app`` has (empty when it has none).

    The caller owns them: ``await provider.aclose()`` each when done.
    """
    from pushdeck.core.providers.base import create_provider  # keeps provider imports lazy

    return {
        record.provider: create_provider(load_credential(ws, app, record.provider))
        for record in list_records(ws, app)
    }
