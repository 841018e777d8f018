"""Web Push preparation rate: encryption + VAPID per message, Pushdeck vs pywebpush.

Both sides do everything a send does except the network: build/serialize the JSON,
RFC 8291 aes128gcm with a fresh key pair and salt, and the VAPID Authorization
header. pywebpush's ``webpush()`` runs with a stub ``requests_session`` so nothing
leaves the process. Each message goes to a *different* subscription (as in a real
campaign), so no per-subscription caching helps either side.

    /work/venv/bin/python bench/bench_webpush.py [--messages 2000] [--rounds 5]

``--send N`` also measures whole sends over the network: N messages, ``--concurrency``
at a time, each to its own subscription, through ``WebPushProvider.send`` (the lean
HTTP/2 client) and through the provider's previous transport (prepare + one shared
``httpx.AsyncClient(http2=True)``), to a sink push service (tests/fakes/h2server.py,
``lean``, answers 201 without decrypting) in its own process over loopback TLS, so the
client CPU time is the client's own:

    /work/venv/bin/python bench/bench_webpush.py --send 5000 --concurrency 100 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import ClassVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from pywebpush import webpush

from pushdeck.core.common.model import (
    Device,
    Message,
    Platform,
    ProviderKind,
    WebPushSubscription,
)
from pushdeck.core.messages.payloads import build_webpush
from pushdeck.core.providers.credentials import WebPushCredential
from pushdeck.core.providers.webpush import WebPushProvider
from pushdeck.core.providers.webpush_crypto import generate_vapid_keys, receiver_keys

ROOT = Path(__file__).resolve().parent.parent

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


def make_subscriptions(n: int, origins: tuple[str, ...] = ORIGINS) -> list[WebPushSubscription]:
    subs = []
    for i in range(n):
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        raw = key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        endpoint = f"{origins[i % len(origins)]}{i:08d}"
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
    parser.add_argument("--send", type=int, default=0, help="also time N sends over HTTP/2")
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    print(f"python {platform.python_version()}, {args.messages} messages x {args.rounds} rounds")
    if args.messages:
        prepare_bench(args)
    if args.send:
        with tempfile.TemporaryDirectory() as tmp:
            send_bench(Path(tmp), args)


def prepare_bench(args: argparse.Namespace) -> None:
    subs = make_subscriptions(args.messages)
    ours, provider = pushdeck_runner(subs)
    theirs = pywebpush_runner(subs)
    runs = {"theirs": theirs, "ours": ours}
    # CPU time is the primary figure: both sides are single-threaded and CPU-bound, and
    # CPU time is not inflated when other processes share the machine. Wall time too.
    for label, clock in (("CPU time", time.process_time), ("wall time", time.perf_counter)):
        rates = interleaved_best(runs, args.messages, args.rounds, clock)
        report(label, rates["theirs"], rates["ours"])
    asyncio.run(provider.aclose())


# -- whole sends over the network --------------------------------------------------------
def serve(directory: Path) -> None:
    """Child process: a sink push service until stdin closes; prints its port first."""
    sys.path.insert(0, str(ROOT))
    from tests.fakes.h2server import H2Server, Request, Response
    from tests.fakes.tls import TestPKI

    pki = TestPKI(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    served = 0

    def handle(request: Request) -> Response:
        nonlocal served
        served += 1
        return Response(201, {"location": f"/message/{served}"}, b"")

    async def run() -> None:
        server = H2Server(
            handle, pki.server_context(), max_concurrent_streams=1000, record=False, lean=True
        )
        await server.start()
        print(server.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        cpu_us = time.process_time() / max(1, served) * 1e6
        stats = {"served": served, "connections": server.connections, "cpu_us": round(cpu_us)}
        print(json.dumps(stats), flush=True)
        await server.aclose()

    asyncio.run(run())


async def timed_sends(
    count: int, concurrency: int, send_one: Callable[[int], Awaitable[bool]]
) -> tuple[float, float, int]:
    """(wall seconds, client CPU seconds, failures) for ``count`` sends."""
    await send_one(0)  # warm up: connect, TLS handshake, VAPID JWT
    next_index, failures = 1, 0

    async def worker() -> None:
        nonlocal next_index, failures
        while next_index <= count:
            index, next_index = next_index, next_index + 1
            failures += not await send_one(index)

    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, time.process_time() - cpu, failures


async def send_pushdeck(
    credential: WebPushCredential, devices: list[Device], concurrency: int
) -> tuple[float, float, int]:
    provider = WebPushProvider(credential)

    async def send_one(index: int) -> bool:
        return bool((await provider.send(MESSAGE, devices[index])).accepted)

    try:
        return await timed_sends(len(devices) - 1, concurrency, send_one)
    finally:
        await provider.aclose()


async def send_httpx(
    credential: WebPushCredential, devices: list[Device], concurrency: int
) -> tuple[float, float, int]:
    """The provider's previous transport: prepare, then one shared httpx client."""
    import httpx

    from pushdeck.core.providers.webpush import ssl_context

    provider = WebPushProvider(credential)  # only for prepare(): encryption and VAPID
    client = httpx.AsyncClient(
        http2=True,
        verify=ssl_context(credential.ca_file),
        timeout=60,
        limits=httpx.Limits(max_connections=100),
    )

    async def send_one(index: int) -> bool:
        endpoint, headers, body = provider.prepare(MESSAGE, devices[index])
        response = await client.post(endpoint, headers=headers, content=body)
        return response.status_code == 201

    try:
        return await timed_sends(len(devices) - 1, concurrency, send_one)
    finally:
        await client.aclose()


def send_bench(directory: Path, args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.fakes.tls import make_pki

    make_pki(directory)
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(directory)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    port = server.stdout.readline().strip()
    keys = generate_vapid_keys()
    credential = WebPushCredential(
        keys.private_key_pem, keys.public_key, SUBJECT, ca_file=str(directory / "ca.pem")
    )
    subs = make_subscriptions(args.send + 1, (f"https://127.0.0.1:{port}/push/",))
    devices = [
        Device("bench", Platform.WEB, ProviderKind.WEBPUSH, s.endpoint, subscription=s)
        for s in subs
    ]
    print(f"{args.send} sends, {args.concurrency} concurrent, sink push service :{port}")
    clients = {"httpx": send_httpx, "pushdeck": send_pushdeck}
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.rounds):
        for name, run in clients.items():
            wall, cpu, failures = asyncio.run(run(credential, devices, args.concurrency))
            rate, cpu_us = args.send / wall, cpu / args.send * 1e6
            print(
                f"  {name:9s}{rate:8,.0f} msgs/s  client CPU {cpu_us:5.0f} µs/msg"
                f"  failures {failures}"
            )
            old = best.get(name)
            best[name] = (max(rate, old[0]), min(cpu_us, old[1])) if old else (rate, cpu_us)
    server.stdin.close()
    print("  server:", server.stdout.readline().strip())
    server.wait(10)
    (rate_old, cpu_old), (rate_new, cpu_new) = best["httpx"], best["pushdeck"]
    print(
        f"  best of {args.rounds}: Pushdeck {rate_new:,.0f} msgs/s, {cpu_new:.0f} µs/msg; "
        f"httpx {rate_old:,.0f} msgs/s, {cpu_old:.0f} µs/msg "
        f"({rate_new / rate_old:.2f}x the rate, {cpu_old / cpu_new:.2f}x less CPU)"
    )


def report(label: str, rate_theirs: float, rate_ours: float) -> None:
    print(f"{'messages/s, ' + label:<40}{'rate':>12}")
    print(f"{'  pywebpush webpush() (stub session)':<40}{rate_theirs:>12,.0f}")
    print(f"{'  Pushdeck WebPushProvider.prepare':<40}{rate_ours:>12,.0f}")
    print(f"  ratio Pushdeck / pywebpush: {rate_ours / rate_theirs:.2f}x (target >= 2.0)")


if __name__ == "__main__":
    main()
