"""Sends leave while the rest of the window is still being prepared (issue 19).

A send's CPU (personalization, payload, Web Push encryption) happens before its request
is written. When the provider's window opened, the dispatcher used to start every send
of the window in one go: each prepared its request and none was written until all had,
so a provider a round trip away sat idle for the whole preparation (0.6 s for 2,000 Web
Push messages) and only then got everything at once. Here the server counts how many
sends the dispatcher had started when each request reached it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.core.campaigns.dispatch import send_campaign_async
from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.model import ProviderKind
from pushdeck.core.providers.base import create_provider
from pushdeck.core.providers.credentials import ApnsTokenCredential
from pushdeck.core.store import Workspace
from tests.core.campaign_helpers import add_devices
from tests.fakes import tls
from tests.fakes.h2server import H2Server, Request, Response

DEVICES = 1200


async def test_requests_reach_the_server_while_later_sends_are_prepared(
    ws: Workspace, tmp_path: Path
) -> None:
    add_devices(ws, [{"token": f"cd{i:062x}"} for i in range(DEVICES)])
    doc = {
        "name": "W", "app": "shop", "audience": {"all": True},
        "message": {"title": "Hi {{ first_name | default: 'there' }}"},
    }  # fmt: skip
    create_campaign(ws, spec_from_dict(doc))
    started: list[int] = []  # one entry per send the dispatcher started
    seen_at: list[int] = []  # per request the server got: sends started by then

    def handler(request: Request) -> Response:
        seen_at.append(len(started))
        return Response(200, {"apns-id": request.headers.get("apns-id", "")}, b"")

    pki = tls.make_pki(tmp_path / "pki")
    server = H2Server(handler, pki.server_context(), apns_like=True, latency=0.02)
    await server.start()
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    credential = ApnsTokenCredential(
        pem, "KEY1234567", "TEAM123456", "com.example.shop",
        endpoint=server.url, ca_file=str(pki.ca_file),
    )  # fmt: skip
    provider: Any = create_provider(credential)
    send = provider.send

    async def counted(*args: Any, **kwargs: Any) -> Any:
        started.append(1)
        return await send(*args, **kwargs)

    provider.send = counted
    try:
        summary = await send_campaign_async(ws, "W", providers={ProviderKind.APNS: provider})
    finally:
        await provider.aclose()
        await server.aclose()
    assert summary.counts == {"accepted": DEVICES}
    assert len(seen_at) == DEVICES and seen_at[0] == 1  # the probe, alone
    # The first requests after the probe arrived while most sends had not started yet
    # (before: all 1,200 were prepared before the second request left).
    assert seen_at[1] < DEVICES / 2, seen_at[:3]
