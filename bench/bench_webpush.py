"""Web Push preparation rate: encryption + VAPID per message, Pushdeck vs pywebpush.

Both sides do everything a send does except the network: build/serialize the JSON,
RFC 8291 aes128gcm with a fresh key pair and salt, and the VAPID Authorization
header. pywebpush's ``webpush()`` runs with a stub ``requests_session`` so nothing
leaves the process. Each message goes to a *different* subscription (as in a real
campaign), so no per-subscription caching helps either side.

    /work/venv/bin/python bench/bench_webpush.py [--messages 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import platform
import time
from collections.abc import Callable
from typing import ClassVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from pywebpush import webpush

from pushdeck.core.credentials import WebPushCredential
from pushdeck.core.model import Device, Message, Platform, ProviderKind, WebPushSubscription
from pushdeck.core.payloads import build_webpush
from pushdeck.core.providers.webpush import WebPushProvider
from pushdeck.core.webpush_crypto import generate_vapid_keys, receiver_keys

ORIGINS = (
    "https://fcm.googleapis.com/fcm/send/",
    "https://updates.push.services.mozilla.com/wpush/v2/",
)
MESSAGE = Message(
    title="Spring sale",
    body="50% off everything today only. Tap to see what's new in the shop.",
    url="https://shop.example.com/sale",
    web_icon="https://cdn.example.com/icon-192.png",
    data={"campaign": "spring-sale", "variant": "A"},
)
SUBJECT = "mailto:ops@example.com"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_subscriptions(n: int) -> list[WebPushSubscription]:
    subs = []
    for i in range(n):
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        raw = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        endpoint = f"{ORIGINS[i % 2]}{i:08d}"
        subs.append(WebPushSubscription(endpoint, _b64(raw), _b64(i.to_bytes(16, "big"))))
    return subs


class _StubResponse:
    status_code = 201
    reason = "Created"
    text = ""
    headers: ClassVar[dict[str, str]] = {}


class _StubSession:
    """Stands in for requests.Session: records nothing, sends nothing."""

    def post(self, *args: object, **kwargs: object) -> _StubResponse:
        return _StubResponse()


def pushdeck_runner(subs: list[WebPushSubscription]) -> tuple[Callable[[], None], WebPushProvider]:
    keys = generate_vapid_keys()
    provider = WebPushProvider(WebPushCredential(keys.private_key_pem, keys.public_key, SUBJECT))
    devices = [
        Device("bench", Platform.WEB, ProviderKind.WEBPUSH, s.endpoint, subscription=s)
        for s in subs
    ]

    def run() -> None:
        # Every message is to a subscription never seen before: no key-decoding cache.
        receiver_keys.cache_clear()
        for device in devices:
            provider.prepare(MESSAGE, device)

    return run, provider


def pywebpush_runner(subs: list[WebPushSubscription]) -> Callable[[], None]:
    vapid = Vapid()
    vapid.generate_keys()  # a loaded key object: pywebpush's fastest documented path
    session = _StubSession()
    data = build_webpush(MESSAGE).body.decode()
    infos = [{"endpoint": s.endpoint, "keys": {"p256dh": s.p256dh, "auth": s.auth}} for s in subs]

    def run() -> None:
        for info in infos:
            webpush(
                info,
                data,
                vapid_private_key=vapid,
                vapid_claims={"sub": SUBJECT},
                ttl=2419200,
                requests_session=session,
            )  # type: ignore[arg-type]

    return run


def timed(run: Callable[[], None], clock: Callable[[], float]) -> float:
    start = clock()
    run()
    return clock() - start


def interleaved_best(
    runs: dict[str, Callable[[], None]], messages: int, rounds: int, clock: Callable[[], float]
) -> dict[str, float]:
    """Best rate of each side, alternating rounds so both see the same machine load."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            best[name] = min(best[name], timed(run, clock))
    return {name: messages / seconds for name, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    subs = make_subscriptions(args.messages)
    print(f"python {platform.python_version()}, {args.messages} messages x {args.rounds} rounds")
    ours, provider = pushdeck_runner(subs)
    theirs = pywebpush_runner(subs)
    runs = {"theirs": theirs, "ours": ours}
    # CPU time is the primary figure: both sides are single-threaded and CPU-bound, and
    # CPU time is not inflated when other processes share the machine. Wall time too.
    for label, clock in (("CPU time", time.process_time), ("wall time", time.perf_counter)):
        rates = interleaved_best(runs, args.messages, args.rounds, clock)
        report(label, rates["theirs"], rates["ours"])
    asyncio.run(provider.aclose())


def report(label: str, rate_theirs: float, rate_ours: float) -> None:
    print(f"{'messages/s, ' + label:<40}{'rate':>12}")
    print(f"{'  pywebpush webpush() (stub session)':<40}{rate_theirs:>12,.0f}")
    print(f"{'  Pushdeck WebPushProvider.prepare':<40}{rate_ours:>12,.0f}")
    print(f"  ratio Pushdeck / pywebpush: {rate_ours / rate_theirs:.2f}x (target >= 2.0)")


if __name__ == "__main__":
    main()
