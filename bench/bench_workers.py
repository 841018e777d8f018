"""Workers on one shared PostgreSQL workspace: 1, 2 and 3 ``pushdeck worker`` processes
sending one queued campaign to the fake APNs answering after 60 ms (issue 18).

    python bench/bench_workers.py [--devices 100000] [--workers 1,2,3] [--latency 0.06]
                                  [--concurrency 2048,100]

Uses the server of ``$PUSHDECK_TEST_PG_ADMIN_DSN`` / ``$PUSHDECK_TEST_PG_USER_DSN`` when set,
else starts a throwaway one (scripts/pg_throwaway). The fake APNs runs in its own process
(verifies the JWT, 1,000 streams per connection). Credentials come from a file keyring
(bench/bench_keyring.py), as a worker's would come from its machine's keyring.

For each concurrency (sends in progress per worker) and worker count, on a fresh
database: the campaign is queued with ``pushdeck campaigns queue``, and timed until it
is 'sent'. Printed per run:

- msgs/s: devices / seconds from the end of ``campaigns queue`` (which writes the
  journal, timed apart) to 'sent';
- CPU seconds of the workers and of the PostgreSQL server during the run, and the
  database's share of all CPU spent;
- claim capacity: afterwards the same journal is queued again and 3 claimer processes
  do only the database's part (claim 128 rows with FOR UPDATE SKIP LOCKED, write their
  outcomes) as fast as they can: rows/s. The target is capacity >= 10x the send rate.

``--concurrency 100`` keeps each worker latency-bound (100 sends / 60 ms is ~1,600/s,
well below what one core can send), which is where more workers must scale; at 2,048 a
worker is CPU-bound and the machine's cores are the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "src"))
sys.path.insert(2, str(ROOT / "bench"))

TOPIC = "com.example.bench"
TEAM, KID = "TEAM123456", "KEY1234567"
TICKS = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- children


def serve(directory: Path, latency: float) -> None:
    """Child: the fake APNs until stdin closes; its URL in apns.json."""
    from cryptography.hazmat.primitives import serialization
    from tests.fakes.apns_server import FakeApns
    from tests.fakes.tls import TestPKI

    pki = TestPKI(directory / "ca.pem", directory / "server.pem", directory / "server.key")

    async def main() -> None:
        key = serialization.load_pem_private_key((directory / "key.p8").read_bytes(), None)
        fake = FakeApns(
            pki, topic=TOPIC, team_id=TEAM, key_id=KID, public_key=key.public_key(),  # type: ignore[union-attr,arg-type]
            max_concurrent_streams=1000, record=False, lean=True, latency=latency,
        )  # fmt: skip
        await fake.start()
        (directory / "apns.json").write_text(json.dumps({"url": fake.url}))
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        print(json.dumps({"accepted": sum(fake.accepted.values()), "ids": len(fake.accepted)}))
        await fake.aclose()

    asyncio.run(main())


def claimer(uri: str, campaign_id: int, finish: bool) -> None:
    """Child: claim rows (and, with ``finish``, write their outcomes; no sending) until
    none is left; print how many."""
    from pushdeck.core.campaigns.journal import JournalState, Outcome, write_outcomes
    from pushdeck.core.campaigns.workers import WorkerLease
    from pushdeck.core.store import Workspace
    from pushdeck.core.store import workers as claims

    with Workspace.open(uri) as ws:
        lease = WorkerLease.register(ws, kind="bench")
        done = 0
        started = time.monotonic()
        after = 0
        while True:
            _, rows = claims.claim(ws, campaign_id, lease.worker_id, after, 128, None, ())
            if not rows:
                break
            after = rows[-1]["id"]
            if finish:
                outcomes = [Outcome(r["id"], JournalState.ACCEPTED, 1) for r in rows]
                write_outcomes(ws, campaign_id, outcomes)
            done += len(rows)
        elapsed = time.monotonic() - started
        lease.stop()
    print(done, elapsed)


# --------------------------------------------------------------------------- setup


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


def prepare(directory: Path) -> dict[str, str]:
    """The environment of this process and its children (the bench's file keyring in
    ``directory``, local endpoints allowed) and the APNs key and PKI there."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT / "src")]),
        "PYTHON_KEYRING_BACKEND": "bench_keyring.FileKeyring",
        "BENCH_KEYRING_FILE": str(directory / "keyring.json"),
        "PUSHDECK_ALLOW_LOCAL_ENDPOINTS": "1",
    }
    os.environ.update(env)
    make_keys(directory)
    return env


def build(uri: str, directory: Path, devices: int) -> int:
    """App, credential, devices and campaign 'bench' in the database; the campaign id."""
    from pushdeck.core.campaigns.library import create_campaign
    from pushdeck.core.campaigns.spec import spec_from_dict
    from pushdeck.core.common.model import App
    from pushdeck.core.credentials.forms import save_apns_token
    from pushdeck.core.store import Workspace
    from pushdeck.core.store.apps import add_app
    from pushdeck.core.store.devices import upsert_devices
    from pushdeck.core.store.workspace import utcnow

    now = utcnow()
    with Workspace.open(uri) as ws:
        app_id = add_app(ws, App("bench", apns_topic=TOPIC)).id
        url = json.loads((directory / "apns.json").read_text())["url"]
        save_apns_token(
            ws, "bench", key_file=str(directory / "key.p8"), key_id=KID, team_id=TEAM,
            environment="production", endpoint=url, ca_file=str(directory / "ca.pem"),
        )  # fmt: skip
        for start in range(0, devices, 10_000):
            upsert_devices(
                ws,
                [
                    {
                        "app_id": app_id,
                        "platform": "ios",
                        "provider": "apns",
                        "token": f"{i:064x}",
                        "p256dh": "",
                        "auth": "",
                        "environment": "production",
                        "opt_in": "authorized",
                        "locale": "en",
                        "timezone": "",
                        "tags": "[]",
                        "attributes": json.dumps({"first_name": f"User{i}"}),
                        "test": 0,
                        "created_at": now,
                        "last_seen": now,
                    }
                    for i in range(start + 1, min(start + 10_000, devices) + 1)
                ],
            )
        message = {"title": "Hello {{ first_name }}", "body": "A bench notification"}
        doc = {"name": "bench", "app": "bench", "audience": {"all": True}, "message": message}
        return create_campaign(ws, spec_from_dict(doc)).id


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def cluster_pids(pg_dir: Path | None) -> list[int]:
    """The PostgreSQL server's processes (postmaster and its children)."""
    if pg_dir is None:
        return []
    pid_file = next(pg_dir.rglob("postmaster.pid"), None)
    if pid_file is None:
        return []
    master = int(pid_file.read_text().split()[0])
    pids = [master]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == master:
                pids.append(int(entry.name))
    return pids


# --------------------------------------------------------------------------- one run


def run(
    uri: str, directory: Path, env: dict[str, str], count: int, concurrency: int,
    devices: int, pg_dir: Path | None,
) -> dict[str, float]:  # fmt: skip
    from pushdeck.core.store import Workspace

    campaign_id = build(uri, directory, devices)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pushdeck",
                "--workspace",
                uri,
                "worker",
                "--name",
                f"w{n}",
                "--poll",
                "0.2",
                "--concurrency",
                str(concurrency),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(directory / f"w{n}.log", "w"),  # noqa: SIM115
        )
        for n in range(count)
    ]
    with Workspace.open(uri) as ws:
        deadline = time.monotonic() + 30
        while ws.scalar("SELECT count(*) FROM workers WHERE stopped_at IS NULL") < count:
            if time.monotonic() > deadline:
                raise SystemExit("the workers did not start")
            time.sleep(0.1)
        pg_before = cpu_seconds(cluster_pids(pg_dir))
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "pushdeck", "--workspace", uri, "campaigns", "queue", "bench"],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        queued = time.monotonic()  # the journal is written: sends start now
        while ws.scalar("SELECT status FROM campaigns WHERE id = ?", (campaign_id,)) != "sent":
            time.sleep(0.05)
        elapsed = time.monotonic() - queued
        queue_seconds = queued - started
        worker_cpu = cpu_seconds([p.pid for p in procs])
        pg_cpu = cpu_seconds(cluster_pids(pg_dir)) - pg_before
        accepted = ws.scalar(
            "SELECT count(*) FROM journal WHERE campaign_id = ? AND state = 'accepted'",
            (campaign_id,),
        )
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(30)
    with Workspace.open(uri) as ws:
        shares = [
            r[0] for r in ws.query("SELECT sent FROM workers WHERE kind = 'worker' ORDER BY id")
        ]
    claims = claim_capacity(uri, campaign_id, env, finish=False)
    capacity = claim_capacity(uri, campaign_id, env, finish=True)
    return {
        "workers": count, "concurrency": concurrency, "devices": devices, "elapsed": elapsed,
        "rate": devices / elapsed, "queue_seconds": queue_seconds, "accepted": accepted,
        "worker_cpu": worker_cpu,
        "pg_cpu": pg_cpu, "claims": claims, "capacity": capacity,
        "shares": shares,  # type: ignore[dict-item]
    }  # fmt: skip


def claim_capacity(uri: str, campaign_id: int, env: dict[str, str], finish: bool) -> float:
    """Rows/s 3 claimer processes get through on the campaign's journal, queued again."""
    from pushdeck.core.store import Workspace

    with Workspace.open(uri) as ws:
        ws.conn.execute(
            "UPDATE journal SET state = 'queued', claimed_by = NULL WHERE campaign_id = ?",
            (campaign_id,),
        )
        ws.conn.execute("UPDATE campaigns SET status = 'sending' WHERE id = ?", (campaign_id,))
        ws.conn.execute("VACUUM ANALYZE journal")
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--claimer", uri, str(campaign_id), str(int(finish))],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    # Each child times its own loop (from its first claim), not its start-up.
    results = [(c.communicate()[0] or "0 1").split() for c in children]
    return sum(int(r[0]) for r in results) / max(float(r[1]) for r in results)


# --------------------------------------------------------------------------- driver


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--latency", type=float, default=0.06)
    parser.add_argument("--concurrency", default="2048,100")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--claimer", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.latency)
        return
    if args.claimer:
        claimer(args.claimer[0], int(args.claimer[1]), args.claimer[2] == "1")
        return
    from bench_pg import _drop, _new_database, _server

    admin, user, started_pg = _server()
    pg_dir = started_pg or (
        Path(os.environ["PUSHDECK_TEST_PG_DIR"]) if "PUSHDECK_TEST_PG_DIR" in os.environ else None
    )
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        env = prepare(directory)
        fake = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(directory), "--latency", str(args.latency)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        assert fake.stdout is not None and fake.stdin is not None
        if fake.stdout.readline().strip() != "ready":
            raise SystemExit("the fake APNs did not start")
        print(
            f"{args.devices:,} devices, fake APNs answering after {args.latency * 1000:.0f} ms, "
            f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        results = []
        try:
            for concurrency in (int(c) for c in args.concurrency.split(",")):
                for count in (int(w) for w in args.workers.split(",")):
                    uri = _new_database(admin, user)
                    try:
                        result = run(uri, directory, env, count, concurrency, args.devices, pg_dir)
                    finally:
                        _drop(admin, uri)
                    results.append(result)
                    total_cpu = result["worker_cpu"] + result["pg_cpu"]
                    print(
                        f"concurrency {concurrency:5d}  {count} worker(s): "
                        f"{result['rate']:7.0f} msgs/s ({result['elapsed']:5.1f} s after "
                        f"'campaigns queue' took {result['queue_seconds']:.1f} s, "
                        f"accepted {int(result['accepted']):,}, split {result['shares']})  "
                        f"CPU workers {result['worker_cpu']:5.1f} s, PostgreSQL "
                        f"{result['pg_cpu']:4.1f} s "
                        f"({100 * result['pg_cpu'] / total_cpu if total_cpu else 0:.0f}%)  "
                        f"claims {result['claims']:,.0f} rows/s = "
                        f"{result['claims'] / result['rate']:.1f}x the send rate, "
                        f"claim+outcome {result['capacity']:,.0f} rows/s = "
                        f"{result['capacity'] / result['rate']:.1f}x  "
                        f"load {os.getloadavg()[0]:.2f}",
                        flush=True,
                    )
            for concurrency in {r["concurrency"] for r in results}:
                rates = {
                    r["workers"]: r["rate"] for r in results if r["concurrency"] == concurrency
                }
                if 1 in rates and max(rates) > 1:
                    top = max(rates)
                    print(
                        f"concurrency {concurrency}: {top} workers = "
                        f"{rates[top] / rates[1]:.2f}x one worker"
                    )
        finally:
            fake.stdin.close()
            print(f"fake APNs: {fake.stdout.read().strip()}")
            fake.wait(10)
            if started_pg is not None:
                subprocess.run([str(ROOT / "scripts" / "pg_throwaway"), "stop", str(started_pg)])


if __name__ == "__main__":
    main()
