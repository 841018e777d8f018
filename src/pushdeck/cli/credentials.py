"""``pushdeck credentials``: enter, list, check and remove provider credentials."""

from __future__ import annotations

import argparse
import asyncio
import base64
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from pushdeck.cli.context import Context
from pushdeck.core.common.errors import ConfigError
from pushdeck.core.common.model import ProviderKind
from pushdeck.core.credentials import checks, secrets
from pushdeck.core.credentials.forms import remember_check
from pushdeck.core.providers.base import CheckResult

_PROVIDERS = [p.value for p in ProviderKind]


def _endpoint_args(parser: argparse.ArgumentParser, endpoint: bool = True) -> None:
    if endpoint:
        parser.add_argument(
            "--endpoint",
            default="",
            metavar="URL",
            help="custom provider endpoint (a proxy or a local test server)",
        )
    parser.add_argument(
        "--ca-file",
        default="",
        metavar="PEM",
        help="extra CA certificate to trust (TLS verification stays on)",
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("credentials", help="provider credentials (in the keyring)")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    apns = verbs.add_parser("set-apns", help="APNs token key (.p8)")
    apns.add_argument("app")
    apns.add_argument("--key-file", type=Path, required=True)
    apns.add_argument("--key-id", required=True)
    apns.add_argument("--team-id", required=True)
    apns.add_argument("--environment", choices=("sandbox", "production"), default="production")
    _endpoint_args(apns)
    apns.set_defaults(handler=_set_apns)

    cert = verbs.add_parser("set-apns-cert", help="APNs certificate (.p12)")
    cert.add_argument("app")
    cert.add_argument("--cert-file", type=Path, required=True)
    cert.add_argument(
        "--password-env",
        metavar="VAR",
        help="read the .p12 password from this environment variable (otherwise it is asked for)",
    )
    cert.add_argument("--environment", choices=("sandbox", "production"), default="production")
    _endpoint_args(cert)
    cert.set_defaults(handler=_set_apns_cert)

    fcm = verbs.add_parser("set-fcm", help="FCM service account (.json)")
    fcm.add_argument("app")
    fcm.add_argument("--service-account", type=Path, required=True)
    _endpoint_args(fcm)
    fcm.set_defaults(handler=_set_fcm)

    web = verbs.add_parser("set-webpush", help="Web Push VAPID key")
    web.add_argument("app")
    source = web.add_mutually_exclusive_group(required=True)
    source.add_argument("--generate", action="store_true", help="generate a new VAPID key pair")
    source.add_argument("--key-file", type=Path, help="PEM private key (P-256)")
    web.add_argument("--subject", required=True, help="mailto:you@example.com or https://…")
    _endpoint_args(web, endpoint=False)
    web.set_defaults(handler=_set_webpush)

    sandbox = verbs.add_parser("set-sandbox", help="use the built-in simulated push service")
    sandbox.add_argument("app")
    sandbox.add_argument("--failure-rate", type=float, default=0.02)
    sandbox.add_argument("--open-rate", type=float, default=0.12)
    sandbox.set_defaults(handler=_set_sandbox)

    lst = verbs.add_parser("list", help="list credentials (never the secrets)")
    lst.add_argument("app", nargs="?")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=_list)

    check = verbs.add_parser("check", help="prove the credentials work without notifying anyone")
    check.add_argument("app")
    check.add_argument("--provider", choices=_PROVIDERS)
    check.add_argument("--json", action="store_true")
    check.set_defaults(handler=_check)

    export = verbs.add_parser(
        "export-to-dir",
        help="write the keyring's secrets to an owner-only folder for a headless worker",
        description="Write each credential's secret from this machine's keyring to DIR, one "
        "owner-only file (mode 600) per credential, in the folder (mode 700) a worker reads "
        "when PUSHDECK_CREDENTIALS_DIR=DIR is set. Copy the folder to the server keeping "
        "the modes (e.g. 'rsync -a' or 'scp -rp'), owned by the worker's user.",
    )
    export.add_argument("dir", type=Path, metavar="DIR")
    export.add_argument("--app", help="only this app's credentials")
    export.set_defaults(handler=_export_to_dir)

    rm = verbs.add_parser("remove", help="remove a credential (and its keyring secret)")
    rm.add_argument("app")
    rm.add_argument("provider", choices=_PROVIDERS)
    rm.set_defaults(handler=_remove)


def _done(record: secrets.CredentialRecord, warnings: list[str]) -> int:
    facts = ", ".join(f"{k}={v}" for k, v in record.facts.items() if k != "behaviour")
    print(
        f"Saved {record.kind} for {record.app} ({facts}); secret stored in the keyring "
        f"({secrets.backend_name()})."
    )
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _set_apns(ctx: Context, args: argparse.Namespace) -> int:
    pem = checks.read_file(args.key_file, "APNs key")
    checked = checks.check_p8(pem, args.key_id, args.team_id, f"The key file {args.key_file}")
    facts = {**checked.facts, "environment": args.environment}
    record = secrets.store_credential(
        ctx.workspace(),
        args.app,
        ProviderKind.APNS,
        "apns-token",
        {"key_pem": pem.decode()},
        facts,
        endpoint=args.endpoint,
        ca_file=_ca(args),
    )
    return _done(record, checked.warnings)


def _set_apns_cert(ctx: Context, args: argparse.Namespace) -> int:
    data = checks.read_file(args.cert_file, "APNs certificate")
    if args.password_env:
        password = os.environ.get(args.password_env)
        if password is None:
            raise ConfigError(f"The environment variable {args.password_env} is not set.")
    else:
        password = getpass.getpass(f"Password of {args.cert_file}: ") if sys.stdin.isatty() else ""
    pw = password.encode() if password else None
    checked = checks.check_p12(data, pw, f"The certificate {args.cert_file}")
    facts = {**checked.facts, "environment": args.environment}
    secret = {"p12": base64.b64encode(data).decode(), "password": password or None}
    record = secrets.store_credential(
        ctx.workspace(),
        args.app,
        ProviderKind.APNS,
        "apns-cert",
        secret,
        facts,
        endpoint=args.endpoint,
        ca_file=_ca(args),
    )
    return _done(record, checked.warnings)


def _set_fcm(ctx: Context, args: argparse.Namespace) -> int:
    raw = checks.read_file(args.service_account, "service account file")
    checked = checks.check_service_account(raw, f"The service account {args.service_account}")
    record = secrets.store_credential(
        ctx.workspace(),
        args.app,
        ProviderKind.FCM,
        "fcm",
        {"service_account": json.loads(raw)},
        checked.facts,
        endpoint=args.endpoint,
        ca_file=_ca(args),
    )
    return _done(record, checked.warnings)


def _set_webpush(ctx: Context, args: argparse.Namespace) -> int:
    if args.generate:
        pem, where = checks.generate_vapid_key(), "the generated key"
    else:
        pem, where = checks.read_file(args.key_file, "VAPID key"), f"The key file {args.key_file}"
    checked = checks.check_vapid(pem, args.subject, where)
    record = secrets.store_credential(
        ctx.workspace(),
        args.app,
        ProviderKind.WEBPUSH,
        "webpush",
        {"private_key_pem": pem.decode()},
        checked.facts,
        ca_file=_ca(args),
    )
    _done(record, checked.warnings)
    print(f"applicationServerKey for your web app: {checked.facts['public_key']}")
    return 0


def _set_sandbox(ctx: Context, args: argparse.Namespace) -> int:
    facts: dict[str, Any] = {
        "behaviour": {"failure_rate": args.failure_rate, "open_rate": args.open_rate}
    }
    record = secrets.store_credential(
        ctx.workspace(), args.app, ProviderKind.SANDBOX, "sandbox", None, facts
    )
    print(f"{record.app} now sends through the built-in sandbox (no messages leave this machine).")
    return 0


def _ca(args: argparse.Namespace) -> str:
    if not args.ca_file:
        return ""
    path = Path(args.ca_file).expanduser().resolve()
    checks.read_file(path, "CA file")
    return str(path)


def _list(ctx: Context, args: argparse.Namespace) -> int:
    records = secrets.list_records(ctx.workspace(), args.app)
    if args.json:
        ctx.print_json(
            [
                {
                    "app": r.app,
                    "provider": r.provider.value,
                    "kind": r.kind,
                    "facts": r.facts,
                    "endpoint": r.endpoint,
                    "ca_file": r.ca_file,
                }
                for r in records
            ]
        )
        return 0
    ctx.table(
        [
            [
                r.app,
                r.provider.value,
                r.kind,
                ", ".join(f"{k}={v}" for k, v in r.facts.items() if k != "behaviour"),
                r.endpoint or "default",
            ]
            for r in records
        ],
        ["APP", "PROVIDER", "KIND", "FACTS", "ENDPOINT"],
    )
    print(f"\nKeyring: {secrets.backend_name()}")
    return 0


def _check(ctx: Context, args: argparse.Namespace) -> int:
    ws = ctx.workspace()
    records = secrets.list_records(ws, args.app)
    if args.provider:
        records = [r for r in records if r.provider.value == args.provider]
    if not records:
        raise ConfigError(
            f"App {args.app!r} has no credentials to check.",
            hint="Add one with 'pushdeck credentials set-apns|set-fcm|…'.",
        )
    results = []
    for record in records:
        credential = secrets.load_credential(ws, args.app, record.provider)
        result = asyncio.run(checks.check_with_provider(credential))
        remember_check(ws, args.app, record.provider, result)  # the app warns on a failure
        results.append((record, result))
    if args.json:
        ctx.print_json(
            [
                {
                    "provider": r.provider.value,
                    "ok": res.ok,
                    "verdict": _verdict(res),
                    "summary": res.summary,
                    "details": res.details,
                }
                for r, res in results
            ]
        )
    else:
        for record, res in results:
            label = {"ok": "OK", "refused": "FAILED", "not_checked": "NOT CHECKED"}[_verdict(res)]
            print(f"{record.provider.value}: {label} — {res.summary}")
            if res.details:
                print(f"  {res.details}")
    verdicts = {_verdict(res) for _, res in results}
    if "refused" in verdicts:
        return EXIT_REFUSED
    return EXIT_NOT_CHECKED if "not_checked" in verdicts else 0


#: ``credentials check`` exit codes: 0 every credential works; 1 a provider refused one
#: (fix it); 75 (EX_TEMPFAIL) a check could not be made — no network, DNS, TLS, or the
#: provider unavailable — and nothing is known about the credential yet (try again).
EXIT_REFUSED, EXIT_NOT_CHECKED = 1, 75


def _verdict(result: CheckResult) -> str:
    if result.ok:
        return "ok"
    return "refused" if result.conclusive else "not_checked"


def _remove(ctx: Context, args: argparse.Namespace) -> int:
    secrets.remove_credential(ctx.workspace(), args.app, ProviderKind(args.provider))
    print(f"Removed the {args.provider} credential of {args.app}.")
    return 0


def _export_to_dir(ctx: Context, args: argparse.Namespace) -> int:
    from pushdeck.core.credentials.folder import CREDENTIALS_DIR_ENV, write_secret

    records = [r for r in secrets.list_records(ctx.workspace(), args.app) if r.kind != "sandbox"]
    if not records:
        raise ConfigError(
            "There are no credentials with a secret to export"
            + (f" for app {args.app!r}." if args.app else "."),
            hint="Add one with 'pushdeck credentials set-apns|set-fcm|set-webpush …'.",
        )
    backend = secrets.keyring_backend()  # the keyring, even if a folder is configured
    for record in records:
        raw = secrets.read_secret(record.keyring_username, backend)
        if raw is None:
            raise ConfigError(
                f"This machine's keyring has no secret for {record.app} ({record.provider.value}).",
                hint="Export from the machine where it was entered, or enter it here first.",
            )
        path = write_secret(args.dir, record.keyring_username, raw)
        print(f"{record.app} {record.provider.value}: {path}")
    print(
        f"Wrote {len(records)} secret(s). On the worker: copy the folder keeping its modes "
        f"(700, files 600), owned by the worker's user, and set {CREDENTIALS_DIR_ENV}={args.dir}."
    )
    return 0
