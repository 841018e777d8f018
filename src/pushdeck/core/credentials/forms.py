"""What the app's credential forms call: validate per field, store, check, list.

Each ``save_*`` reads the chosen files, checks them with ``credential_checks`` and
stores the secret in the keyring through ``secrets.store_credential``. A problem is a
``ValidationError`` whose ``field`` names the form field at fault (``file``,
``key_id``, ``team_id``, ``password``, ``subject``, ``ca_file``, ``endpoint``), so the
form can show the message next to it. Checks run on the asyncio loop (``run_check``).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pushdeck.core.common.errors import (
    CredentialError,
    KeyringUnavailableError,
    ValidationError,
)
from pushdeck.core.common.model import ProviderKind
from pushdeck.core.credentials import checks
from pushdeck.core.credentials.secrets import CredentialRecord
from pushdeck.core.providers.base import CheckResult
from pushdeck.core.providers.credentials import Credential
from pushdeck.core.store.workspace import Workspace

_APPLE_ID = re.compile(r"[A-Z0-9]{10}")


@dataclass(frozen=True)
class Saved:
    record: CredentialRecord
    warnings: list[str]


def _at(field: str, exc: CredentialError) -> ValidationError:
    if isinstance(exc, KeyringUnavailableError):
        return ValidationError(exc.message, field="keyring", hint=exc.hint)
    return ValidationError(exc.message, field=field, hint=exc.hint)


def _read(path: str, field: str, what: str) -> bytes:
    if not path.strip():
        raise ValidationError(f"Choose the {what}.", field=field)
    try:
        return checks.read_file(Path(path), what)
    except CredentialError as exc:
        raise _at(field, exc) from None


def _advanced(endpoint: str, ca_file: str) -> tuple[str, str]:
    endpoint = endpoint.strip()
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme != "https" or not parts.netloc:
            raise ValidationError(
                f"The endpoint {endpoint!r} must be an https:// URL (scheme, host, optional port).",
                field="endpoint",
            )
    ca_file = ca_file.strip()
    if ca_file and not Path(ca_file).expanduser().is_file():
        raise ValidationError(f"The CA file {ca_file} does not exist.", field="ca_file")
    return endpoint, str(Path(ca_file).expanduser().resolve()) if ca_file else ""


def _store(
    ws: Workspace,
    app: str,
    provider: ProviderKind,
    kind: str,
    secret: dict[str, Any] | None,
    facts: dict[str, Any],
    endpoint: str = "",
    ca_file: str = "",
) -> CredentialRecord:
    from pushdeck.core.credentials.secrets import store_credential

    try:
        return store_credential(
            ws, app, provider, kind, secret, facts, endpoint=endpoint, ca_file=ca_file
        )
    except CredentialError as exc:
        raise _at("keyring", exc) from None


def save_apns_token(
    ws: Workspace,
    app: str,
    *,
    key_file: str,
    key_id: str,
    team_id: str,
    environment: str,
    endpoint: str = "",
    ca_file: str = "",
) -> Saved:
    for field, label, value in (("key_id", "key id", key_id), ("team_id", "team id", team_id)):
        if not _APPLE_ID.fullmatch(value.strip()):
            raise ValidationError(
                f"The {label} should be 10 capital letters or digits (got {value!r}).",
                field=field,
            )
    pem = _read(key_file, "file", ".p8 key file")
    try:
        checked = checks.check_p8(pem, key_id.strip(), team_id.strip(), f"The key file {key_file}")
    except CredentialError as exc:
        raise _at("file", exc) from None
    endpoint, ca_file = _advanced(endpoint, ca_file)
    facts = {**checked.facts, "environment": environment}
    record = _store(ws, app, ProviderKind.APNS, "apns-token", {"key_pem": pem.decode()}, facts,
                    endpoint, ca_file)  # fmt: skip
    return Saved(record, checked.warnings)


def save_apns_cert(
    ws: Workspace,
    app: str,
    *,
    cert_file: str,
    password: str,
    environment: str,
    endpoint: str = "",
    ca_file: str = "",
) -> Saved:
    data = _read(cert_file, "file", ".p12 certificate")
    try:
        checked = checks.check_p12(data, password.encode() or None, f"The certificate {cert_file}")
    except CredentialError as exc:
        field = "password" if "password" in exc.message else "file"
        raise _at(field, exc) from None
    endpoint, ca_file = _advanced(endpoint, ca_file)
    facts = {**checked.facts, "environment": environment}
    secret = {"p12": base64.b64encode(data).decode(), "password": password or None}
    record = _store(ws, app, ProviderKind.APNS, "apns-cert", secret, facts, endpoint, ca_file)
    return Saved(record, checked.warnings)


def inspect_service_account(path: str) -> dict[str, Any]:
    """The project id and client email of a service account file (shown before saving)."""
    raw = _read(path, "file", "service account file")
    try:
        return checks.check_service_account(raw, f"The service account {path}").facts
    except CredentialError as exc:
        raise _at("file", exc) from None


def save_fcm(
    ws: Workspace, app: str, *, service_account: str, endpoint: str = "", ca_file: str = ""
) -> Saved:
    raw = _read(service_account, "file", "service account file")
    try:
        checked = checks.check_service_account(raw, f"The service account {service_account}")
    except CredentialError as exc:
        raise _at("file", exc) from None
    endpoint, ca_file = _advanced(endpoint, ca_file)
    secret = {"service_account": json.loads(raw)}
    record = _store(ws, app, ProviderKind.FCM, "fcm", secret, checked.facts, endpoint, ca_file)
    return Saved(record, checked.warnings)


def new_vapid_key() -> str:
    """A fresh VAPID private key (PEM text) for the Web Push form's 'Generate'."""
    return checks.generate_vapid_key().decode()


def vapid_public_key_of(pem: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ValidationError("This is not a PEM private key.", field="file") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValidationError("VAPID keys are P-256 (EC) keys.", field="file")
    return checks.vapid_public_key(key)


def save_webpush(
    ws: Workspace, app: str, *, private_key_pem: str, subject: str, ca_file: str = ""
) -> Saved:
    if not private_key_pem.strip():
        raise ValidationError("Generate a key or import a .pem file.", field="file")
    from pushdeck.core.providers.webpush_crypto import subject_problem

    problem = subject_problem(subject)  # the one rule for saving and checking
    if problem:
        raise ValidationError(problem, field="subject")
    try:
        checked = checks.check_vapid(private_key_pem.encode(), subject.strip())
    except CredentialError as exc:
        raise _at("file", exc) from None
    _endpoint, ca_file = _advanced("", ca_file)
    secret = {"private_key_pem": private_key_pem}
    record = _store(ws, app, ProviderKind.WEBPUSH, "webpush", secret, checked.facts, "", ca_file)
    return Saved(record, checked.warnings)


def save_sandbox(ws: Workspace, app: str, *, failure_rate: float, open_rate: float) -> Saved:
    facts = {"behaviour": {"failure_rate": failure_rate, "open_rate": open_rate}}
    return Saved(_store(ws, app, ProviderKind.SANDBOX, "sandbox", None, facts), [])


def load_for_check(ws: Workspace, app: str, provider: ProviderKind) -> Credential:
    """The credential (secret from the keyring) to check; run on the workspace thread."""
    from pushdeck.core.credentials.secrets import load_credential

    return load_credential(ws, app, provider)


def remember_check(ws: Workspace, app: str, provider: ProviderKind, result: CheckResult) -> None:
    """Keep the outcome with the credential (the send confirmation warns about a failure)."""
    from pushdeck.core.store.check_results import record_check

    record_check(ws, app, provider.value, result.ok, result.summary, result.details)


async def run_check(credential: Credential) -> CheckResult:
    """The provider's own check, without notifying anyone (on the asyncio loop)."""
    from pushdeck.core.credentials.checks import check_with_provider

    return await check_with_provider(credential)


@dataclass(frozen=True)
class AppCredentials:
    name: str
    apns_topic: str
    android_package: str
    web_origin: str
    records: list[CredentialRecord]
    #: One sentence per credential whose secret this machine's keyring lacks.
    missing_here: list[str] = dataclasses.field(default_factory=list)


def overview(ws: Workspace) -> tuple[list[AppCredentials], str, str]:
    """Every app with its credential records, the keyring backend's name, and the fix
    text when no keyring is usable ('' when one is)."""
    from pushdeck.core.credentials.on_this_machine import has_secret, missing_secret_message
    from pushdeck.core.credentials.secrets import NO_KEYRING_HINT, backend_name, list_records
    from pushdeck.core.store.apps import list_apps

    apps = []
    for a in list_apps(ws):
        records = list_records(ws, a.name)
        missing = [missing_secret_message(a.name, r.kind) for r in records if not has_secret(r)]
        apps.append(AppCredentials(a.name, a.apns_topic, a.android_package, a.web_origin,
                                   records, missing))  # fmt: skip
    name = backend_name()
    return apps, name, NO_KEYRING_HINT if name == "no keyring available" else ""
