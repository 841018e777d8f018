"""APNs send throughput: Pushdeck vs aioapns against the same fake APNs, in one run.

    /work/venv/bin/python bench/bench_apns.py [--count 20000] [--workers 1000]

The fake APNs (tests/fakes/apns_server.py: verifies the ES256 JWT, headers, topic,
payload) runs in its own process over loopback TLS + HTTP/2, so the numbers are the
client's. Each client runs in a fresh child process so its peak RSS is its own.
Both clients send the same small alert with an apns-id, ``--workers`` at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOPIC = "com.example.bench"
TEAM, KID = "TEAM123456", "KEY1234567"
TOKEN = "ab" * 32
CPU_SECONDS: list[float] = []  # client CPU time of the timed part


def serve(directory: Path) -> None:
    """Child process: run the fake APNs until stdin closes; print its port first."""
    from cryptography.hazmat.primitives import serialization
    from tests.fakes.apns_server import FakeApns
    from tests.fakes.tls import TestPKI

    pki = TestPKI(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    key = serialization.load_pem_private_key((directory / "key.p8").read_bytes(), None)

    async def main() -> None:
        fake = FakeApns(
            pki, topic=TOPIC, team_id=TEAM, key_id=KID, public_key=key.public_key(),  # type: ignore[union-attr,arg-type]
            max_concurrent_streams=1000, record=False, lean=True,
        )  # fmt: skip
        await fake.start()
        print(fake.server.port, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        accepted = sum(fake.accepted.values())
        stats = {"accepted": accepted, "rejected": dict(fake.rejections)}
        stats |= {"connections": fake.server.connections, "errors": fake.server.protocol_errors}
        stats["cpu_us_per_request"] = round(time.process_time() / max(1, accepted) * 1e6)
        print(json.dumps(stats), flush=True)
        await fake.aclose()

    asyncio.run(main())


async def run_workers(count: int, workers: int, send_one) -> float:  # type: ignore[no-untyped-def]
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await send_one()

    await send_one()  # warm up: connect, TLS, first JWT
    cpu, start = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    CPU_SECONDS.append(time.process_time() - cpu)
    return time.perf_counter() - start


async def client_pushdeck(directory: Path, port: int, count: int, workers: int) -> dict[str, float]:
    from pushdeck.core.common.model import Device, Message, Platform, ProviderKind
    from pushdeck.core.providers.base import create_provider
    from pushdeck.core.providers.credentials import ApnsTokenCredential

    cred = ApnsTokenCredential(
        key_pem=(directory / "key.p8").read_bytes(), key_id=KID, team_id=TEAM, topic=TOPIC,
        endpoint=f"https://localhost:{port}", ca_file=str(directory / "ca.pem"),
    )  # fmt: skip
    provider = create_provider(cred)
    device = Device(app="bench", platform=Platform.IOS, provider=ProviderKind.APNS, token=TOKEN)
    message = Message(title="Hello", body="A small alert", sound="default")
    failures = 0

    async def send_one() -> None:
        nonlocal failures
        result = await provider.send(message, device, notification_id=str(uuid.uuid4()))
        failures += not result.accepted

    elapsed = await run_workers(count, workers, send_one)
    await provider.aclose()
    return {"elapsed": elapsed, "failures": failures}


async def client_aioapns(directory: Path, port: int, count: int, workers: int) -> dict[str, float]:
    import ssl

    from aioapns import APNs, NotificationRequest, PushType
    from aioapns.connection import APNsProductionClientProtocol

    class Local(APNsProductionClientProtocol):
        APNS_SERVER = "localhost"
        APNS_PORT = port

    context = ssl.create_default_context(cafile=str(directory / "ca.pem"))
    context.set_alpn_protocols(["h2"])
    apns = APNs(
        key=(directory / "key.p8").read_text(), key_id=KID, team_id=TEAM, topic=TOPIC,
        ssl_context=context,
    )  # fmt: skip
    apns.pool.protocol_class = Local
    payload = {"aps": {"alert": {"title": "Hello", "body": "A small alert"}, "sound": "default"}}
    failures = 0

    async def send_one() -> None:
        nonlocal failures
        request = NotificationRequest(
            device_token=TOKEN, message=payload, notification_id=str(uuid.uuid4()),
            push_type=PushType.ALERT, priority=10,
        )  # fmt: skip
        result = await apns.send_notification(request)
        failures += not result.is_successful

    elapsed = await run_workers(count, workers, send_one)
    apns.pool.close()
    return {"elapsed": elapsed, "failures": failures}


async def client_httpx(directory: Path, port: int, count: int, workers: int) -> dict[str, float]:
    """The baseline of issue 3: one httpx.AsyncClient(http2=True), JWT signed once."""
    import httpx
    import jwt

    key = (directory / "key.p8").read_bytes()
    token = jwt.encode({"iss": TEAM, "iat": int(time.time())}, key, "ES256", {"kid": KID})
    base = {"authorization": f"bearer {token}", "apns-topic": TOPIC, "apns-push-type": "alert"}
    body = b'{"aps":{"alert":{"title":"Hello","body":"A small alert"},"sound":"default"}}'
    limits = httpx.Limits(max_connections=1)
    client = httpx.AsyncClient(
        http2=True, verify=str(directory / "ca.pem"), limits=limits, timeout=60
    )
    url = f"https://localhost:{port}/3/device/{TOKEN}"
    failures = 0

    async def send_one() -> None:
        nonlocal failures
        headers = {**base, "apns-id": str(uuid.uuid4())}
        response = await client.post(url, content=body, headers=headers)
        failures += response.status_code != 200

    elapsed = await run_workers(count, workers, send_one)
    await client.aclose()
    return {"elapsed": elapsed, "failures": failures}


def client(name: str, directory: Path, port: int, count: int, workers: int) -> None:
    run = {"pushdeck": client_pushdeck, "aioapns": client_aioapns, "httpx": client_httpx}[name]
    result = asyncio.run(run(directory, port, count, workers))
    result["rate"] = count / result["elapsed"]
    # CPU per message does not depend on what else the machine is running.
    result["cpu_us"] = CPU_SECONDS[-1] / count * 1e6
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result), flush=True)


def make_keys(directory: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from tests.fakes.tls import make_pki

    make_pki(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip
    (directory / "key.p8").write_bytes(pem)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1, help="alternate clients this many times")
    parser.add_argument("--httpx", action="store_true", help="also run a plain httpx baseline")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    if args.client:
        name, directory, port = args.client
        return client(name, Path(directory), int(port), args.count, args.workers)
    with tempfile.TemporaryDirectory() as tmp:
        run_all(Path(tmp), args)


def run_all(directory: Path, args: argparse.Namespace) -> None:
    make_keys(directory)
    me = [sys.executable, __file__, "--count", str(args.count), "--workers", str(args.workers)]
    server = subprocess.Popen(
        [*me, "--serve", str(directory)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None and server.stdin is not None
    port = server.stdout.readline().strip()
    print(f"{args.count} alerts, {args.workers} concurrent, fake APNs pid {server.pid} :{port}")
    rates: dict[str, list[float]] = {"aioapns": [], "pushdeck": []}
    if args.httpx:
        rates["httpx"] = []
    for _ in range(args.rounds):
        for name in rates:
            out = subprocess.run(
                [*me, "--client", name, str(directory), port], capture_output=True, text=True
            )
            if out.returncode:
                raise SystemExit(out.stderr)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            rates[name].append(result["rate"])
            print(
                f"{name:9s} {result['rate']:8.0f} msgs/s  {result['elapsed']:6.2f} s  "
                f"client CPU {result['cpu_us']:5.0f} µs/msg  "
                f"peak RSS {result['peak_rss_mb']:6.1f} MB  failures {result['failures']}"
            )
    server.stdin.close()
    print("server:", server.stdout.readline().strip())
    server.wait(10)
    best = {name: max(values) for name, values in rates.items()}
    print(
        f"ratio pushdeck/aioapns (best of {args.rounds}): {best['pushdeck'] / best['aioapns']:.2f}"
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
