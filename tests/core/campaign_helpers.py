"""Helpers for campaign-engine tests: devices in bulk and a fault-injecting fake provider."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pushdeck.core.common.model import Device, Message, ProviderKind, SendResult, SendStatus
from pushdeck.core.providers.base import CheckResult
from pushdeck.core.store import Workspace
from pushdeck.core.store.devices import upsert_devices
from pushdeck.core.store.workspace import utcnow


def add_devices(ws: Workspace, rows: Iterable[dict[str, Any]], app: str = "shop") -> None:
    """Insert devices given as partial dicts (token required)."""
    app_id = ws.scalar("SELECT id FROM apps WHERE name = ?", (app,))
    records = []
    for row in rows:
        provider = row.get("provider", "apns")
        platform = row.get("platform", {"apns": "ios", "fcm": "android"}.get(provider, "web"))
        records.append(
            {
                "app_id": app_id,
                "platform": platform,
                "provider": provider,
                "token": row["token"],
                "p256dh": row.get("p256dh", "k" if provider == "webpush" else ""),
                "auth": row.get("auth", "a" if provider == "webpush" else ""),
                "environment": "production",
                "opt_in": row.get("opt_in", "authorized"),
                "locale": row.get("locale", ""),
                "timezone": row.get("timezone", ""),
                "tags": json.dumps(row.get("tags", [])),
                "attributes": json.dumps(row.get("attributes", {})),
                "test": int(row.get("test", False)),
                "created_at": utcnow(),
                "last_seen": row.get("last_seen"),
            }
        )
    upsert_devices(ws, records)
    for row in rows if isinstance(rows, list) else []:
        if "status" in row:
            ws.conn.execute(
                "UPDATE devices SET status = ? WHERE token = ?", (row["status"], row["token"])
            )


def record_credentials(ws: Workspace, *kinds: ProviderKind, app: str = "shop") -> None:
    """Credentials on record for ``app`` (their secrets are not needed to review or count:
    without a record, every device is excluded for having no credential)."""
    from pushdeck.core.credentials.secrets import store_credential

    for kind in kinds or (ProviderKind.APNS,):
        store_credential(ws, app, kind, "token", None, {})


@dataclass
class FakeProvider:
    """A Provider whose answers are scripted per token; counts what it received.

    ``script[token]`` is a list of results returned on successive attempts (the last
    one repeats). Everything else is accepted. ``received`` counts notification ids
    of sends that got an accepted answer, so duplicates are visible.
    """

    kind: ClassVar[ProviderKind] = ProviderKind.APNS
    script: dict[str, list[SendResult]] = field(default_factory=dict)
    delay: float = 0.0
    received: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    messages: dict[str, Message] = field(default_factory=dict)
    in_flight: int = 0
    max_in_flight: int = 0
    provider_kind: ProviderKind = ProviderKind.APNS

    async def send(
        self, message: Message, device: Device, *, notification_id: str = ""
    ) -> SendResult:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            answers = self.script.get(device.token, [])
            index = self.attempts[device.token]
            self.attempts[device.token] += 1
            result = (
                answers[min(index, len(answers) - 1)]
                if answers
                else SendResult(SendStatus.ACCEPTED, self.provider_kind, 200, provider_id="ok")
            )
            if isinstance(result, Exception):
                raise result
            if result.accepted:
                self.received[notification_id] += 1
                self.messages[device.token] = message
            return result
        finally:
            self.in_flight -= 1

    async def check(self) -> CheckResult:
        return CheckResult(True, "fake")

    async def aclose(self) -> None:
        return None


def result(status: SendStatus, **kwargs: Any) -> SendResult:
    return SendResult(status, ProviderKind.APNS, **kwargs)


def send_through_fake(ws: Workspace, name: str, **script: list[SendResult]) -> FakeProvider:
    """Send campaign ``name`` to every provider kind through one FakeProvider (a journal
    for engagement events to be checked against); ``script`` scripts tokens' answers."""
    import asyncio

    from pushdeck.core.campaigns.dispatch import send_campaign_async

    fake = FakeProvider(script=dict(script))
    providers: dict[ProviderKind, Any] = {kind: fake for kind in ProviderKind}
    asyncio.run(send_campaign_async(ws, name, providers=providers))
    return fake
