"""Campaign dispatch: a whole campaign across APNs, FCM and Web Push fakes plus sandbox.

    /work/venv/bin/python bench/bench_campaign.py [--devices 100000] [--small 10000]

Each fake (tests/fakes: APNs verifies the JWT and headers, FCM does OAuth and
validates, Web Push checks VAPID and *decrypts* every body) runs in its own process
over loopback TLS + HTTP/2. Each measured run is a fresh child process, so its peak
RSS is its own:

- raw: the same devices and message sent with ``provider.send`` directly, with the
  same per-provider concurrency: no journal, no personalization, no audience query;
- campaign N: ``send_campaign_async`` on a workspace of N devices (materialize the
  journal, page the audience, render Liquid per device, journal every outcome).

Overhead = 1 − campaign rate ÷ raw rate, both measured in the same run.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "src"))

TOPIC = "com.example.bench"
TEAM, KID = "TEAM123456", "KEY1234567"
MIX = {"apns": 0.40, "fcm": 0.25, "webpush": 0.15, "sandbox": 0.20}
if os.environ.get("BENCH_MIX"):  # e.g. "apns=1" to measure one provider alone
    MIX = {k: float(v) for k, v in (p.split("=") for p in os.environ["BENCH_MIX"].split(","))}
    MIX = {k: MIX.get(k, 0.0) for k in ("apns", "fcm", "webpush", "sandbox")}
CONCURRENCY = 100
MESSAGE = {"title": 'Hi {{ first_name | default: "there" }}', "body": "Spring sale: 20% off"}


# --------------------------------------------------------------------------- fakes


def serve(kind: str, directory: Path) -> None:
    """Child process: run one fake until stdin closes; print its facts as JSON first."""
    from cryptography.hazmat.primitives import serialization
    from tests.fakes.tls import TestPKI

    pki = TestPKI(directory / "ca.pem", directory / "server.pem", directory / "server.key")

    async def main() -> None:
        facts: dict[str, Any]
        if kind == "apns":
            from tests.fakes.apns_server import FakeApns

            key = serialization.load_pem_private_key((directory / "key.p8").read_bytes(), None)
            fake: Any = FakeApns(
                pki, topic=TOPIC, team_id=TEAM, key_id=KID, public_key=key.public_key(),  # type: ignore[union-attr,arg-type]
                max_concurrent_streams=1000, record=False, lean=True,
            )  # fmt: skip
            await fake.start()
            facts = {"url": fake.url}
        elif kind == "fcm":
            from tests.fakes.fcm_server import FakeFcm

            fake = await FakeFcm(pki).start()
            facts = {"url": fake.url, "account": fake.service_account()}
        else:
            from tests.fakes.webpush_server import FakeWebPushService

            fake = await FakeWebPushService(pki).start()
            count = int(os.environ["BENCH_WEB_SUBSCRIPTIONS"])
            subs = [fake.subscribe() for _ in range(count)]
            facts = {"subscriptions": [[s.endpoint, s.p256dh, s.auth] for s in subs]}
        (directory / f"{kind}.json").write_text(json.dumps(facts))
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await fake.aclose()

    asyncio.run(main())


# --------------------------------------------------------------------------- workspace


def build_workspace(directory: Path, size: int) -> Path:
    """A workspace with ``size`` devices in the MIX, one app, one campaign."""
    from pushdeck.core.campaigns.library import create_campaign
    from pushdeck.core.campaigns.spec import spec_from_dict
    from pushdeck.core.common.model import App
    from pushdeck.core.store import Workspace
    from pushdeck.core.store.apps import add_app
    from pushdeck.core.store.devices import upsert_devices
    from pushdeck.core.store.workspace import utcnow

    path = directory / f"bench-{size}.pushdeck"
    web = json.loads((directory / "webpush.json").read_text())["subscriptions"]
    counts = {k: int(size * share) for k, share in MIX.items()}
    counts["sandbox"] += size - sum(counts.values())
    now = utcnow()
    with Workspace.open(path) as ws:
        app_id = add_app(ws, App("bench", apns_topic=TOPIC)).id
        records: list[dict[str, Any]] = []
        index = 0
        for kind, count in counts.items():
            for n in range(count):
                index += 1
                platform = {"apns": "ios", "fcm": "android", "webpush": "web"}.get(kind, "ios")
                token, p256dh, auth = f"{index:064x}", "", ""
                if kind == "webpush":
                    token, p256dh, auth = web[n]
                records.append(_record(app_id, kind, platform, token, p256dh, auth, index, now))
            for start in range(0, len(records), 10_000):
                upsert_devices(ws, records[start : start + 10_000])
            records = []
        doc = {"name": "bench", "app": "bench", "audience": {"all": True}, "message": MESSAGE}
        create_campaign(ws, spec_from_dict(doc))
    return path


def _record(
    app_id: int | None, kind: str, platform: str, token: str, p256dh: str, auth: str,
    index: int, now: str,
) -> dict[str, Any]:  # fmt: skip
    return {
        "app_id": app_id, "platform": platform, "provider": kind, "token": token,
        "p256dh": p256dh, "auth": auth, "environment": "production", "opt_in": "authorized",
        "locale": "en", "timezone": "", "tags": "[]",
        "attributes": json.dumps({"first_name": f"User{index}"}), "test": 0,
        "created_at": now, "last_seen": now,
    }  # fmt: skip


def providers(directory: Path) -> dict[Any, Any]:
    from pushdeck.core.common.model import ProviderKind
    from pushdeck.core.providers.base import create_provider
    from pushdeck.core.providers.credentials import (
        ApnsTokenCredential,
        FcmCredential,
        SandboxCredential,
        WebPushCredential,
    )

    ca = str(directory / "ca.pem")
    apns = json.loads((directory / "apns.json").read_text())
    fcm = json.loads((directory / "fcm.json").read_text())
    vapid = json.loads((directory / "vapid.json").read_text())
    return {
        ProviderKind.APNS: create_provider(
            ApnsTokenCredential(
                (directory / "key.p8").read_bytes(),
                KID,
                TEAM,
                TOPIC,
                endpoint=apns["url"],
                ca_file=ca,
            )
        ),
        ProviderKind.FCM: create_provider(FcmCredential(fcm["account"], fcm["url"], ca)),
        ProviderKind.WEBPUSH: create_provider(
            WebPushCredential(
                vapid["private"].encode(), vapid["public"], "mailto:bench@example.com", ca
            )
        ),
        ProviderKind.SANDBOX: create_provider(
            SandboxCredential(latency_ms=5, failure_rate=0, dead_rate=0)
        ),
    }


# --------------------------------------------------------------------------- runs


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run_raw(directory: Path, workspace: Path) -> dict[str, float]:
    """Every device of the workspace sent directly through its provider."""
    from pushdeck.core.campaigns.variants import notification_id
    from pushdeck.core.common.model import Message
    from pushdeck.core.store import Workspace
    from pushdeck.core.store.devices import iter_devices

    with Workspace.open(workspace) as ws:
        devices = list(iter_devices(ws))
    live = providers(directory)
    message = Message(title="Hi User1", body=MESSAGE["body"], data={"pushdeck_campaign": "raw"})
    semaphores = {k: asyncio.Semaphore(CONCURRENCY) for k in live}
    accepted = 0

    async def one(device: Any) -> None:
        nonlocal accepted
        async with semaphores[device.provider]:
            nid = notification_id("raw", device.app, device.token)
            result = await live[device.provider].send(message, device, notification_id=nid)
            accepted += result.accepted

    start = time.perf_counter()
    for begin in range(0, len(devices), 5000):  # bounded task count, like the dispatcher
        await asyncio.gather(*(one(d) for d in devices[begin : begin + 5000]))
    elapsed = time.perf_counter() - start
    for provider in live.values():
        await provider.aclose()
    return {"devices": len(devices), "accepted": accepted, "elapsed": elapsed}


async def run_campaign(directory: Path, workspace: Path) -> dict[str, float]:
    from pushdeck.core.campaigns.dispatch import DispatchOptions, send_campaign_async
    from pushdeck.core.store import Workspace

    live = providers(directory)
    with Workspace.open(workspace) as ws:
        start = time.perf_counter()
        summary = await send_campaign_async(
            ws, "bench", providers=live, options=DispatchOptions(concurrency=CONCURRENCY)
        )
        elapsed = time.perf_counter() - start
    for provider in live.values():
        await provider.aclose()
    total = sum(summary.counts.values())
    return {"devices": total, "accepted": summary.counts.get("accepted", 0), "elapsed": elapsed}


def child(mode: str, directory: Path, workspace: Path) -> None:
    run = run_raw if mode == "raw" else run_campaign
    result = asyncio.run(run(directory, workspace))
    result["rate"] = result["devices"] / result["elapsed"]
    result["peak_rss_mb"] = rss_mb()
    print(json.dumps(result), flush=True)


# --------------------------------------------------------------------------- driver


def make_keys(directory: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from tests.fakes.tls import make_pki

    from pushdeck.core.providers.webpush_crypto import generate_vapid_keys

    make_pki(directory)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip
    (directory / "key.p8").write_bytes(pem)
    vapid = generate_vapid_keys()
    (directory / "vapid.json").write_text(
        json.dumps({"private": vapid.private_key_pem.decode(), "public": vapid.public_key})
    )


def start_fakes(directory: Path, devices: int) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "BENCH_WEB_SUBSCRIPTIONS": str(int(devices * MIX["webpush"]) + 10)}
    fakes = []
    for kind in ("apns", "fcm", "webpush"):
        fake = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, str(directory)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        fakes.append(fake)
    for fake in fakes:
        assert fake.stdout is not None
        if fake.stdout.readline().strip() != "ready":
            raise SystemExit("a fake did not start")
    return fakes


def measure(mode: str, directory: Path, workspace: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(directory), str(workspace)],
        capture_output=True, text=True,
    )  # fmt: skip
    if out.returncode:
        raise SystemExit(out.stderr)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"{mode:9s} {int(result['devices']):7d} devices  {result['rate']:7.0f} msgs/s  "
        f"{result['elapsed']:6.1f} s  accepted {int(result['accepted'])}  "
        f"peak RSS {result['peak_rss_mb']:6.1f} MB",
        flush=True,
    )
    return result


def run_all(directory: Path, args: argparse.Namespace) -> None:
    make_keys(directory)
    fakes = start_fakes(directory, args.devices)
    try:
        big = build_workspace(directory, args.devices)
        small = build_workspace(directory, args.small)
        print(f"mix {MIX}, concurrency {CONCURRENCY} per provider", flush=True)
        raw = measure("raw", directory, big)
        small_run = measure("campaign", directory, small)
        big_run = measure("campaign", directory, big)
    finally:
        for fake in fakes:
            assert fake.stdin is not None
            fake.stdin.close()
            fake.wait()
    overhead = 1 - big_run["rate"] / raw["rate"]
    growth = big_run["peak_rss_mb"] - small_run["peak_rss_mb"]
    print(f"journal + personalization overhead: {overhead:.1%} of raw throughput (target ≤ 25%)")
    print(f"peak RSS growth {args.small} → {args.devices} devices: {growth:.1f} MB (target ≤ 50)")


_GEN = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
_R = "abs(random()) % "


def bench_analytics(rows: int) -> None:
    """Analytics queries on ``rows`` journal rows and ``rows`` events (random, in SQL)."""
    from pushdeck.core.campaigns.library import create_campaign
    from pushdeck.core.campaigns.spec import spec_from_dict
    from pushdeck.core.common.model import App
    from pushdeck.core.reports import analytics
    from pushdeck.core.store import Workspace
    from pushdeck.core.store.apps import add_app

    with tempfile.TemporaryDirectory() as tmp, Workspace.open(Path(tmp) / "a.pushdeck") as ws:
        app_id = add_app(ws, App("bench")).id
        doc = {"name": "A", "app": "bench", "audience": {"all": True}, "message": {"title": "x"}}
        campaign_id = create_campaign(ws, spec_from_dict(doc)).id
        ws.conn.execute("UPDATE campaigns SET started_at = '2026-05-01T09:00:00Z'")
        start = time.perf_counter()
        with ws.transaction() as conn:
            conn.execute(
                _GEN + "INSERT INTO devices (id, app_id, platform, provider, token, created_at)"
                " SELECT i, ?, 'ios', 'apns', printf('%064x', i), '2026-01-01' FROM n",
                (rows, app_id),
            )
            conn.execute(
                _GEN + "INSERT INTO journal (campaign_id, device_id, variant, state, platform,"
                f" locale) SELECT ?, i, CASE {_R}2 WHEN 0 THEN 'A' ELSE 'B' END,"
                f" CASE WHEN {_R}100 < 90 THEN 'accepted' WHEN {_R}3 = 0 THEN 'dead'"
                f" WHEN {_R}2 = 0 THEN 'rejected' ELSE 'excluded' END,"
                f" CASE {_R}3 WHEN 0 THEN 'ios' WHEN 1 THEN 'android' ELSE 'web' END,"
                f" CASE {_R}3 WHEN 0 THEN 'en' WHEN 1 THEN 'pt-BR' ELSE 'de' END FROM n",
                (rows, campaign_id),
            )
        journal_time = time.perf_counter() - start
        start = time.perf_counter()
        with ws.transaction() as conn:  # the engagement trigger runs for every event
            conn.execute(
                _GEN + "INSERT INTO events (event_id, campaign_id, device_id, kind, at,"
                f" received_at) SELECT 'e' || i, ?, 1 + {_R}?, CASE {_R}11"
                " WHEN 0 THEN 'action' WHEN 1 THEN 'dismissed' WHEN 2 THEN 'opened'"
                " WHEN 3 THEN 'opened' WHEN 4 THEN 'opened' ELSE 'delivered' END,"
                " strftime('%Y-%m-%dT%H:%M:%SZ', '2026-05-01T09:00:00',"
                f" '+' || ({_R}86400) || ' seconds'), '' FROM n",
                (rows, campaign_id, rows),
            )
        events_time = time.perf_counter() - start
        print(f"{rows} journal rows in {journal_time:.1f} s; {rows} events in {events_time:.1f} s")
        ws.conn.execute("ANALYZE")
        for label, call in (
            ("overall funnel", lambda: analytics.overall(ws, "A")),
            ("funnel by platform", lambda: analytics.funnel(ws, "A", "platform")),
            ("opens per minute", lambda: analytics.opens_over_time(ws, "A")),
            ("rejection reasons", lambda: analytics.reasons(ws, "A", "rejected")),
            ("whole report", lambda: analytics.campaign_report(ws, "A")),
        ):
            best = min(_timed(call) for _ in range(3))
            print(f"{label:20s} {best * 1000:8.0f} ms")


def _timed(call: Any) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--analytics", type=int, metavar="ROWS", help="time analytics queries")
    args = parser.parse_args()
    if args.analytics:
        return bench_analytics(args.analytics)
    if args.serve:
        return serve(args.serve[0], Path(args.serve[1]))
    if args.child:
        mode, directory, workspace = args.child
        return child(mode, Path(directory), Path(workspace))
    with tempfile.TemporaryDirectory() as tmp:
        run_all(Path(tmp), args)


if __name__ == "__main__":
    main()
