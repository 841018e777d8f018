"""``pushdeck push``: send one message to one token or subscription, print the full answer.

The daily tool of a mobile developer: exit 0 only when the provider accepted.
``--payload FILE.json`` takes either a Pushdeck message document (the ``message``
object of a campaign file) or a platform-native payload: an APNs payload (has
``aps``) or an FCM v1 body (has ``message``), sent byte for byte as written.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import uuid
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from pushdeck.cli.context import Context
from pushdeck.core.common.errors import ConfigError, ValidationError
from pushdeck.core.common.model import (
    DEFAULT_PROVIDER,
    ApnsEnvironment,
    Device,
    Message,
    Platform,
    ProviderKind,
    PushType,
    SendResult,
)
from pushdeck.core.common.untrusted import capped, provider_json, provider_text
from pushdeck.core.credentials import secrets
from pushdeck.core.messages.json_form import message_from_dict
from pushdeck.core.providers.base import create_provider
from pushdeck.core.providers.credentials import Credential
from pushdeck.core.store.apps import get_app
from pushdeck.core.store.workspace import Workspace


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "push", help="send one message to one device and print the provider's answer"
    )
    parser.add_argument("app")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--token", help="APNs device token or FCM registration token")
    target.add_argument(
        "--subscription",
        type=Path,
        metavar="FILE.json",
        help="a browser's PushSubscription JSON (Web Push)",
    )
    parser.add_argument(
        "--platform",
        choices=[p.value for p in Platform],
        help="default: web for --subscription, ios for a hex token, else android",
    )
    parser.add_argument(
        "--provider",
        choices=[p.value for p in ProviderKind],
        help="default: the platform's provider, or the app's sandbox",
    )
    content = parser.add_mutually_exclusive_group(required=True)
    content.add_argument("--title", help="alert title (with --body)")
    content.add_argument(
        "--payload",
        type=Path,
        metavar="FILE.json",
        help="a message document, or a native APNs / FCM payload",
    )
    parser.add_argument("--body", default="")
    parser.add_argument("--subtitle", default="")
    parser.add_argument("--badge", type=int)
    parser.add_argument("--sound", default="")
    parser.add_argument("--url", default="", help="deep link or click URL")
    parser.add_argument("--image", default="", help="https image URL")
    parser.add_argument(
        "--data", action="append", default=[], metavar="KEY=VALUE", help="custom data (repeatable)"
    )
    parser.add_argument(
        "--push-type",
        choices=[t.value for t in PushType],
        help="APNs push type (default: read from the message or the whole native aps; "
        "name it for voip, location, complication, controls, …)",
    )
    parser.add_argument(
        "--environment",
        choices=("sandbox", "production"),
        help="APNs environment of this token (default: the credential's)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(handler=_push)


def _push(ctx: Context, args: argparse.Namespace) -> int:
    ws = ctx.workspace()
    get_app(ws, args.app)
    platform = _platform(args)
    provider = _provider(ws, args.app, platform, args.provider)
    credential = secrets.load_credential(ws, args.app, provider)
    device = _device(args, platform, provider, credential)
    native, message = _content(args)
    push_type = PushType(args.push_type) if args.push_type else None
    if push_type is not None and native is None:
        message = replace(message, push_type=push_type)
    result = asyncio.run(_send(credential, device, message, native, push_type))
    _print(ctx, result, args.json)
    return 0 if result.accepted else 1


def _platform(args: argparse.Namespace) -> Platform:
    if args.platform:
        return Platform(args.platform)
    if args.subscription:
        return Platform.WEB
    return Platform.IOS if re.fullmatch(r"[0-9a-fA-F]{64,}", args.token) else Platform.ANDROID


def _provider(ws: Workspace, app: str, platform: Platform, chosen: str | None) -> ProviderKind:
    if chosen:
        return ProviderKind(chosen)
    available = {r.provider for r in secrets.list_records(ws, app)}
    for kind in (DEFAULT_PROVIDER[platform], ProviderKind.SANDBOX):
        if kind in available:
            return kind
    raise ConfigError(
        f"App {app!r} has no {DEFAULT_PROVIDER[platform].value} credential to reach this "
        f"{platform.value} device.",
        hint=f"Add one with 'pushdeck credentials set-{DEFAULT_PROVIDER[platform].value} {app} …'.",
    )


def _device(
    args: argparse.Namespace, platform: Platform, provider: ProviderKind, credential: Credential
) -> Device:
    subscription = None
    token = args.token or ""
    if args.subscription:
        from pushdeck.core.providers.webpush import subscription_from_json

        try:
            raw = args.subscription.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationError(f"Cannot read {args.subscription}: {exc.strerror}.") from None
        subscription = subscription_from_json(raw)
        token = subscription.endpoint
    environment = ApnsEnvironment(
        args.environment or getattr(credential, "environment", ApnsEnvironment.PRODUCTION)
    )
    return Device(
        app=args.app,
        platform=platform,
        provider=provider,
        token=token,
        subscription=subscription,
        environment=environment,
    )


def _content(args: argparse.Namespace) -> tuple[dict[str, Any] | None, Message]:
    if args.payload is None:
        data = dict(_pair(item) for item in args.data)
        message = Message(
            title=args.title,
            body=args.body,
            subtitle=args.subtitle,
            badge=args.badge,
            sound=args.sound,
            url=args.url,
            image_url=args.image,
            data=data,
        )
        return None, message
    try:
        document = json.loads(args.payload.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationError(f"Cannot read {args.payload}: {exc.strerror}.") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"{args.payload} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from None
    if isinstance(document, dict) and ("aps" in document or "message" in document):
        return document, Message()
    return None, message_from_dict(document, where=str(args.payload))


def _pair(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ValidationError(f"--data {item!r} should look like key=value.")
    return key, value


async def _send(
    credential: Credential,
    device: Device,
    message: Message,
    native: dict[str, Any] | None,
    push_type: PushType | None = None,
) -> SendResult:
    provider: Any = create_provider(credential)
    notification_id = str(uuid.uuid4())
    try:
        if native is None:
            return await provider.send(message, device, notification_id=notification_id)  # type: ignore[no-any-return]
        return await _send_native(provider, device, native, notification_id, push_type)
    finally:
        await provider.aclose()


async def _send_native(
    provider: Any,
    device: Device,
    native: dict[str, Any],
    notification_id: str,
    push_type: PushType | None,
) -> SendResult:
    if "aps" in native and provider.kind is ProviderKind.APNS:
        from pushdeck.core.messages.payloads.apns import native_apns_request

        # The push type (and with it the topic suffix and priority) is read from the
        # whole aps unless --push-type names it.
        request = native_apns_request(
            native, topic=provider.topic, push_type=push_type, notification_id=notification_id
        )
        result: SendResult = await provider.send_request(
            device.token, request, environment=device.environment
        )
        return result
    if "message" in native and provider.kind is ProviderKind.FCM:
        from pushdeck.core.messages.payloads.fcm import FcmRequest, type_native_apns_block

        native["message"].setdefault("token", device.token)
        type_native_apns_block(native["message"], push_type)
        body = json.dumps(native, ensure_ascii=False, separators=(",", ":")).encode()
        fcm_result: SendResult = await provider.send_request(FcmRequest(native, body))
        return fcm_result
    raise ConfigError(
        f"This native payload does not fit the {provider.kind.value} provider.",
        hint="Use an APNs payload (with 'aps') for iOS, an FCM body (with 'message') for "
        "Android, or a Pushdeck message document for any platform.",
    )


def _print(ctx: Context, result: SendResult, as_json: bool) -> None:
    # The answer is the provider's text: printed as capped plain text, never as
    # terminal escapes or megabytes (core.untrusted).
    fields = capped(asdict(result))
    fields["status"] = result.status.value
    fields["provider"] = result.provider.value
    if as_json:
        ctx.print_json(fields)
        return
    verdict = "ACCEPTED" if result.accepted else result.status.value.upper()
    print(f"{verdict} by {result.provider.value} (HTTP {result.http_status})")
    for key in ("provider_id", "reason", "explanation", "retry_after", "token_dead_since"):
        if fields.get(key):
            print(f"  {key}: {provider_text(fields[key])}")
    if result.retryable:
        print("  retryable: yes")
    if result.raw:
        print("  raw: " + provider_json(result.raw))
