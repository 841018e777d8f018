"""While a campaign sends, the collector does not re-walk the heap that existed before
(issue 19: ~10 % of the command's CPU); afterwards the process is as it was.

Two campaigns sending at once on one loop (the app can) freeze once and restore once,
whichever ends first; a send that fails (refused credentials) restores too.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator

import pytest

from pushdeck.core.campaigns.dispatch import send_campaign_async
from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.errors import CredentialError
from pushdeck.core.common.model import Device, Message, ProviderKind, SendResult, SendStatus
from pushdeck.core.store import Workspace
from tests.core.campaign_helpers import FakeProvider, add_devices


@pytest.fixture(autouse=True)
def known_collector() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    gc.unfreeze()
    yield
    gc.set_threshold(*before)


class Watching(FakeProvider):
    """Records the collector's state at each send (after ``wait`` seconds)."""

    def __init__(self, wait: float = 0.0) -> None:
        super().__init__()
        self.wait = wait
        self.seen: list[tuple[int, int]] = []

    async def send(
        self, message: Message, device: Device, *, notification_id: str = ""
    ) -> SendResult:
        await asyncio.sleep(self.wait)
        self.seen.append((gc.get_freeze_count(), gc.get_threshold()[0]))
        return await super().send(message, device, notification_id=notification_id)


def campaign(ws: Workspace, name: str) -> None:
    doc = {"name": name, "app": "shop", "audience": {"all": True}, "message": {"title": "x"}}
    create_campaign(ws, spec_from_dict(doc))


def test_the_old_heap_is_frozen_while_sending_and_thawed_after(ws: Workspace) -> None:
    add_devices(ws, [{"token": f"a{i:063x}"} for i in range(20)])
    campaign(ws, "A")
    provider = Watching()
    summary = asyncio.run(send_campaign_async(ws, "A", providers={ProviderKind.APNS: provider}))
    assert summary.counts == {"accepted": 20}
    assert len(provider.seen) == 20
    assert all(frozen > 1000 and threshold > 700 for frozen, threshold in provider.seen)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == (700, 10, 10)


def test_two_sends_at_once_restore_the_collector_once_both_end(ws: Workspace) -> None:
    add_devices(ws, [{"token": f"a{i:063x}"} for i in range(10)])
    campaign(ws, "A")
    campaign(ws, "B")
    short, long = Watching(), Watching(wait=0.3)
    after_a: list[tuple[int, int]] = []

    async def send_a() -> None:
        await send_campaign_async(ws, "A", providers={ProviderKind.APNS: short})
        after_a.append((gc.get_freeze_count(), gc.get_threshold()[0]))

    async def both() -> None:
        await asyncio.gather(
            send_a(), send_campaign_async(ws, "B", providers={ProviderKind.APNS: long})
        )

    asyncio.run(both())
    assert len(short.seen) == 10 and len(long.seen) == 10
    # "A" ended while "B" was still sending: the collector stayed as sending wants it.
    assert len(long.seen) == 10 and after_a[0][1] > 700 and after_a[0][0] > 1000
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == (700, 10, 10)


def test_a_failing_send_restores_the_collector(ws: Workspace) -> None:
    tokens = [f"a{i:063x}" for i in range(3)]
    add_devices(ws, [{"token": t} for t in tokens])
    campaign(ws, "A")
    refused = SendResult(SendStatus.AUTH_FAILURE, ProviderKind.APNS, 403, reason="BadTopic")
    provider = FakeProvider(script={t: [refused] for t in tokens})
    with pytest.raises(CredentialError):
        asyncio.run(send_campaign_async(ws, "A", providers={ProviderKind.APNS: provider}))
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == (700, 10, 10)
