"""A two-minute total APNs outage in the middle of a campaign: what the user sees, how
long the campaign waits, and what it sends afterwards (issue 12).

    .venv/bin/python bench/outage_recovery.py [--devices 5000] [--outage 120]
        [--kind 503|hang|refused] [--request-timeout 30]

The fake APNs (tests/fakes, TLS + HTTP/2 on 127.0.0.1, JWT verified) runs on the same
loop as the dispatcher. When half the devices have been accepted, a switch file turns
the outage on: every request answered 503 (``503``), read and never answered
(``hang``), or nothing listening (``refused``). ``--outage`` seconds later the file is
deleted. Default ``DispatchOptions`` (probe 5 s doubling to 30 s, pause after 5 min),
so the campaign should ride the outage out and finish by itself.

Prints the progress notices as they change (once per 10 s for a countdown), then one
JSON line: wall times, requests during the outage, what was accepted (every device
exactly once?), and "possibly duplicated" as reported vs. seen by the fake.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "src"))

TOPIC = "com.example.shop"


async def run(devices: int, outage: float, kind: str, request_timeout: float) -> dict[str, object]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from tests.core.campaign_helpers import add_devices
    from tests.fakes import tls
    from tests.fakes.apns_server import FakeApns, outage_response
    from tests.fakes.h2server import Request

    from pushdeck.core.campaigns.dispatch import DispatchOptions, Progress, send_campaign_async
    from pushdeck.core.campaigns.library import create_campaign
    from pushdeck.core.campaigns.spec import spec_from_dict
    from pushdeck.core.common.model import App, ProviderKind
    from pushdeck.core.providers.base import create_provider
    from pushdeck.core.providers.credentials import ApnsTokenCredential
    from pushdeck.core.store import Workspace
    from pushdeck.core.store.apps import add_app

    tmp = Path(tempfile.mkdtemp(prefix="pushdeck-outage-"))
    pki = tls.make_pki(tmp / "pki")
    key = ec.generate_private_key(ec.SECP256R1())
    fake = FakeApns(
        pki, topic=TOPIC, team_id="TEAM123456", key_id="KEY1234567",
        public_key=key.public_key(), record=False,
    )  # fmt: skip
    await fake.start()
    switch = tmp / "apns-down"
    loop = asyncio.get_running_loop()
    times: dict[str, float] = {}
    handler = fake.server.handler
    answered_ok = [0]

    def watching(req: Request) -> object:
        answered_ok[0] += 1
        if "outage_off" in times and "first_after" not in times:
            times["first_after"] = time.monotonic()
        if answered_ok[0] == devices // 2 and "outage_on" not in times:
            switch.touch()
            times["outage_on"] = time.monotonic()
            loop.call_later(outage, _off)
        return handler(req)

    def _off() -> None:
        switch.unlink()
        times["outage_off"] = time.monotonic()

    fake.server.handler = watching  # type: ignore[assignment]
    if kind == "503":
        fake.server.outage_while(switch, outage_response(503))
    elif kind == "hang":
        fake.server.hang_while(switch)
    else:
        fake.server.refuse_while(switch)

    ws = Workspace.open(tmp / "w.pushdeck")
    add_app(ws, App("shop", apns_topic=TOPIC))
    add_devices(ws, [{"token": f"ab{i:062x}"} for i in range(devices)])
    doc = {"name": "R", "app": "shop", "audience": {"all": True}, "message": {"title": "Hi"}}
    create_campaign(ws, spec_from_dict(doc))
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    credential = ApnsTokenCredential(
        pem, "KEY1234567", "TEAM123456", TOPIC, endpoint=fake.url, ca_file=str(pki.ca_file)
    )
    provider = create_provider(credential, timeout=request_timeout)
    started = time.monotonic()
    shown = {"text": "", "at": 0.0}

    def on_progress(p: Progress) -> None:
        now = time.monotonic()
        head = p.notice.split(";")[0]
        if head != shown["text"].split(";")[0] or (p.notice and now - shown["at"] >= 10):
            accepted = p.counts.get("accepted", 0)
            print(f"[{now - started:7.1f} s] accepted {accepted:>6} | {p.notice or '(no notice)'}")
            shown["text"], shown["at"] = p.notice, now

    try:
        summary = await send_campaign_async(
            ws, "R", providers={ProviderKind.APNS: provider}, on_progress=on_progress,
            options=DispatchOptions(),
        )  # fmt: skip
    finally:
        await provider.aclose()
        await fake.aclose()
    ended = time.monotonic()
    attempts = ws.scalar("SELECT sum(attempts) FROM journal")
    ws.close()
    on, off = times.get("outage_on", ended), times.get("outage_off", ended)
    after = times.get("first_after", ended)
    return {
        "kind": kind,
        "devices": devices,
        "status": summary.status,
        "counts": dict(summary.counts),
        "error": summary.error,
        "outage_s": round(off - on, 1),
        "campaign_s": round(ended - started, 1),
        "first_accept_after_outage_end_s": round(after - off, 1),
        "requests_during_outage": fake.server.outage_answers + len(fake.server.hung),
        "accepted_distinct": len(fake.accepted),
        "accepted_more_than_once": sum(1 for v in fake.accepted.values() if v > 1),
        "possibly_duplicated_reported": summary.possibly_duplicated,
        "journal_attempts": attempts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--outage", type=float, default=120.0)
    parser.add_argument("--kind", choices=["503", "hang", "refused"], default="503")
    parser.add_argument("--request-timeout", type=float, default=30.0)
    args = parser.parse_args()
    result = asyncio.run(run(args.devices, args.outage, args.kind, args.request_timeout))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
