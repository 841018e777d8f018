"""Sending at WAN speed (issue 19): the whole campaign command vs each provider's usual
Python client, against the same fake answering after a round trip, in one run.

    python bench/bench_wan.py apns    --devices 20000 --latency-ms 60 --peer-workers 1000
    python bench/bench_wan.py apns    --devices 20000 --latency-ms 0  --peer-workers 100
    python bench/bench_wan.py fcm     --devices 10000 --latency-ms 60
    python bench/bench_wan.py webpush --devices 2000  --latency-ms 60 --peer-workers 50
    python bench/bench_wan.py rss     --sizes 100000,300000,1000000
    python bench/bench_wan.py cpu     --sizes 20000,100000 --rounds 3 --before /tmp/main/src

Each fake (tests/fakes) runs in its own process over loopback TLS and answers every
request ``--latency-ms`` after it arrived; the APNs fake advertises what Apple does
(1 stream until the first answer, then 1,000), the FCM fake 100 streams per connection
(Google's front ends). Every measured client is a fresh process, so its CPU time and
peak RSS are its own. Rounds alternate peer, Pushdeck; medians are reported.

- Pushdeck: ``pushdeck campaigns send bench`` on a copy of a prepared workspace (one app,
  credentials, ``--devices`` devices, a campaign personalized per device with Liquid),
  timed from spawning the command to its exit: start-up, materializing the journal,
  personalization, every outcome journaled.
- APNs peer: aioapns 4 (``send_notification``), ``--peer-workers`` sends in flight,
  timed after a warm-up send: its bare send loop.
- FCM peer: firebase-admin ``messaging.send_each_async`` (HTTP/2 over httpx), 500
  messages per call as documented, calls one after another; the OAuth token is fetched
  before timing.
- Web Push peer: pywebpush ``webpush()`` from ``--peer-workers`` threads sharing one
  ``requests`` session (HTTP/1.1 keep-alive, a pool as large as the threads), against
  the same decrypting fake through an HTTP/1.1 front with the same latency.
- rss: the APNs campaign command at 0 ms for each size: peak RSS and CPU per message.
- cpu: the same command's CPU per message, this tree and (``--before``) another source
  tree alternating on the same workspace, medians of ``--rounds``.
- profile: the same command (``--devices``, 0 ms) under py-spy (``--rounds`` runs, raw
  stacks of the main thread, idle samples left out): the top entries by own time and the
  shares of the categories in bench/README.md; ``--before`` profiles another source too.

    python bench/bench_wan.py profile --devices 20000 --rounds 3 --before /tmp/main/src
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "src"))

TOPIC = "com.example.bench"
PACKAGE = "com.example.bench"
TEAM, KID = "TEAM123456", "KEY1234567"
MESSAGE = {"title": 'Hi {{ first_name | default: "there" }}', "body": "Spring sale: 20% off"}
CPU: list[float] = []


# --------------------------------------------------------------------------- fakes


def serve(kind: str, directory: Path, latency: float) -> None:
    """Child process: one fake until stdin closes; writes its facts as JSON first."""
    from tests.fakes.tls import TestPKI

    pki = TestPKI(directory / "ca.pem", directory / "server.pem", directory / "server.key")

    async def main() -> None:
        facts: dict[str, Any] = {}
        if kind == "apns":
            from cryptography.hazmat.primitives import serialization
            from tests.fakes.apns_server import FakeApns

            key = serialization.load_pem_private_key((directory / "key.p8").read_bytes(), None)
            fake: Any = FakeApns(
                pki, topic=TOPIC, team_id=TEAM, key_id=KID, public_key=key.public_key(),  # type: ignore[union-attr,arg-type]
                record=False, lean=True, apns_like=True, latency=latency,
            )  # fmt: skip
            await fake.start()
            facts = {"url": fake.url, "port": fake.server.port}
        elif kind == "fcm":
            from tests.fakes.fcm_server import FakeFcm

            fake = FakeFcm(pki)
            fake.server.latency, fake.server.lean = latency, True
            fake.server.max_concurrent_streams = 100
            await fake.start()
            facts = {"url": fake.url, "account": fake.service_account()}
        else:
            from tests.fakes.webpush_server import FakeWebPushService

            fake = FakeWebPushService(pki)
            fake.server.latency, fake.server.lean = latency, True
            await fake.start()
            h1 = await _http1_front(fake, pki, latency)
            count = int(os.environ["BENCH_DEVICES"])
            subs = [fake.subscribe() for _ in range(count)]
            facts = {
                "url": fake.url,
                "h1_port": h1.sockets[0].getsockname()[1],
                "subscriptions": [[s.endpoint, s.p256dh, s.auth] for s in subs],
            }
        (directory / f"{kind}.json").write_text(json.dumps(facts))
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await fake.aclose()

    asyncio.run(main())


async def _http1_front(fake: Any, pki: Any, latency: float) -> asyncio.Server:
    """HTTP/1.1 keep-alive in front of the same fake push service (for ``requests``)."""
    from tests.fakes.h2server import Request

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                response = fake.handle(Request(method, path, headers, body))
                if latency:
                    await asyncio.sleep(latency)
                extra = "".join(f"{k}: {v}\r\n" for k, v in response.headers.items())
                writer.write(
                    f"HTTP/1.1 {response.status} X\r\ncontent-length: {len(response.body)}\r\n"
                    f"{extra}\r\n".encode()
                    + response.body
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return await asyncio.start_server(
        connection, "127.0.0.1", 0, ssl=pki.server_context(alpn=("http/1.1",))
    )


def start_fake(kind: str, directory: Path, latency: float, devices: int) -> subprocess.Popen[str]:
    env = {**os.environ, "BENCH_DEVICES": str(devices)}
    fake = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, str(directory), str(latency)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert fake.stdout is not None
    if fake.stdout.readline().strip() != "ready":
        raise SystemExit(f"the {kind} fake did not start")
    return fake


# --------------------------------------------------------------------------- workspace


def pushdeck_source() -> str:
    # BENCH_PUSHDECK_SRC=/path/to/other/src measures another version of the command (e.g.
    # an export of the main branch, for before/after numbers in the same conditions).
    return os.environ.get("BENCH_PUSHDECK_SRC", str(ROOT / "src"))


def compile_bytecode(*sources: str) -> None:
    """Byte-compile the measured source once, as an installed package is: with
    PYTHONDONTWRITEBYTECODE set (as in some shells and CI) every run would otherwise
    compile Pushdeck's ~150 modules from source, ~0.3 s the peers never pay."""
    for source in sources or (pushdeck_source(),):
        subprocess.run([sys.executable, "-m", "compileall", "-q", source], check=True)


def cli_env(directory: Path, source: str | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(BENCH), source or pushdeck_source()]),
        "PYTHON_KEYRING_BACKEND": "bench_keyring.FileKeyring",
        "BENCH_KEYRING_FILE": str(directory / "keyring.json"),
        # The fakes listen on 127.0.0.1, which Web Push endpoints may not name otherwise
        # (core.netguard): without this every subscription is refused, not sent.
        "PUSHDECK_ALLOW_LOCAL_ENDPOINTS": "1",
    }


def pushdeck(directory: Path, workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pushdeck", "--workspace", str(workspace), *args]
    out = subprocess.run(command, capture_output=True, text=True, env=cli_env(directory))
    if out.returncode:
        raise SystemExit(f"{' '.join(args)}: {out.stderr or out.stdout}")
    return out


def build_workspace(kind: str, directory: Path, size: int) -> Path:
    """One app, the provider's credential (through the CLI), ``size`` devices, a campaign."""
    from bench_campaign import _record  # type: ignore[import-not-found]

    from pushdeck.core.campaigns.library import create_campaign
    from pushdeck.core.campaigns.spec import spec_from_dict
    from pushdeck.core.common.model import App
    from pushdeck.core.store import Workspace
    from pushdeck.core.store.apps import add_app
    from pushdeck.core.store.devices import upsert_devices
    from pushdeck.core.store.workspace import utcnow

    path = directory / f"{kind}-{size}.pushdeck"
    facts = json.loads((directory / f"{kind}.json").read_text())
    now = utcnow()
    with Workspace.open(path) as ws:
        app = App("bench", apns_topic=TOPIC, android_package=PACKAGE, web_origin="https://x.test")
        app_id = add_app(ws, app).id
        platform = {"apns": "ios", "fcm": "android", "webpush": "web"}[kind]
        web = facts.get("subscriptions", [])
        for start in range(0, size, 10_000):
            records = []
            for index in range(start, min(size, start + 10_000)):
                token, p256dh, auth = f"{index + 1:064x}", "", ""
                if kind == "fcm":
                    token = f"fcm-token-{index:012d}-{'x' * 140}"
                elif kind == "webpush":
                    token, p256dh, auth = web[index]
                records.append(_record(app_id, kind, platform, token, p256dh, auth, index, now))
            upsert_devices(ws, records)
        doc = {"name": "bench", "app": "bench", "audience": {"all": True}, "message": MESSAGE}
        create_campaign(ws, spec_from_dict(doc))
    ca = str(directory / "ca.pem")
    if kind == "apns":
        pushdeck(
            directory, path, "credentials", "set-apns", "bench", "--key-file",
            str(directory / "key.p8"), "--key-id", KID, "--team-id", TEAM,
            "--environment", "production", "--endpoint", facts["url"], "--ca-file", ca,
        )  # fmt: skip
    elif kind == "fcm":
        account = directory / "account.json"
        account.write_text(json.dumps(facts["account"]))
        pushdeck(
            directory, path, "credentials", "set-fcm", "bench", "--service-account",
            str(account), "--endpoint", facts["url"], "--ca-file", ca,
        )  # fmt: skip
    else:
        pushdeck(
            directory, path, "credentials", "set-webpush", "bench", "--key-file",
            str(directory / "vapid.pem"), "--subject", "mailto:bench@example.com",
            "--ca-file", ca,
        )  # fmt: skip
    return path


def make_keys(directory: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from tests.fakes.tls import make_pki

    make_pki(directory)
    for name in ("key.p8", "vapid.pem"):
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )  # fmt: skip
        (directory / name).write_bytes(pem)


# --------------------------------------------------------------------------- runs

# A child's ru_maxrss includes the RSS of the process that forked it (Linux counts the
# pre-exec copy), and this driver holds whole workspaces while building them. So every
# measured command is forked by a bare interpreter (-S: a few MB), which reports the
# command's own CPU time and peak RSS.
_MEASURE = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(json.dumps([usage.ru_utime + usage.ru_stime, usage.ru_maxrss,
                  os.waitstatus_to_exitcode(status)]), file=sys.stderr)
"""


def measured(command: list[str], env: dict[str, str]) -> tuple[str, str, float, float, float]:
    """Run ``command``: (stdout, stderr, wall s, CPU s, peak RSS MB), or exit on failure."""
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-S", "-c", _MEASURE, *command], capture_output=True, text=True,
        env=env,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    *errors, last = out.stderr.strip().splitlines() or [""]
    cpu, maxrss, code = json.loads(last)
    if code:
        raise SystemExit(f"{' '.join(command[:6])}… failed: {chr(10).join(errors)}")
    return out.stdout, "\n".join(errors), elapsed, cpu, maxrss / 1024


def run_pushdeck(directory: Path, workspace: Path, source: str | None = None) -> dict[str, float]:
    """The campaign command on a fresh copy of the workspace, wall and CPU from spawn."""
    copy = directory / "run.pushdeck"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(workspace, copy)
    command = [
        sys.executable, "-m", "pushdeck", "--workspace", str(copy),
        "campaigns", "send", "bench", "--json",
    ]  # fmt: skip
    out, _, elapsed, cpu, rss = measured(command, cli_env(directory, source))
    counts = json.loads(out)["counts"]
    total = sum(counts.values())
    if counts.get("accepted", 0) != total:  # a rate of refusals is not a send rate
        raise SystemExit(f"pushdeck did not send every message: {counts}")
    return {
        "devices": total,
        "ok": counts.get("accepted", 0),
        "elapsed": elapsed,
        "cpu_us": cpu / total * 1e6,
        "rss_mb": rss,
    }


def run_peer(kind: str, directory: Path, devices: int, workers: int) -> dict[str, float]:
    command = [
        sys.executable, __file__, "--peer", kind, str(directory), str(devices), str(workers),
    ]  # fmt: skip
    ca = str(directory / "ca.pem")  # the peers trust the fakes' CA as they would a real one
    env = {**os.environ, "SSL_CERT_FILE": ca, "REQUESTS_CA_BUNDLE": ca, "CURL_CA_BUNDLE": ca}
    out, _, _, _, rss = measured(command, env)
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    result["rss_mb"] = rss
    if result["ok"] != devices:
        raise SystemExit(f"the {kind} peer sent {result['ok']:.0f} of {devices} messages")
    return result


def peer_child(kind: str, directory: Path, devices: int, workers: int) -> None:
    run = {"apns": peer_aioapns, "fcm": peer_firebase, "webpush": peer_pywebpush}[kind]
    result = run(directory, devices, workers)
    print(json.dumps(result), flush=True)


def peer_aioapns(directory: Path, devices: int, workers: int) -> dict[str, float]:
    from bench_apns import CPU_SECONDS, client_aioapns  # type: ignore[import-not-found]

    port = json.loads((directory / "apns.json").read_text())["port"]
    result = asyncio.run(client_aioapns(directory, port, devices, workers))
    return {
        "devices": devices,
        "ok": devices - result["failures"],
        "elapsed": result["elapsed"],
        "cpu_us": CPU_SECONDS[-1] / devices * 1e6,
    }


def peer_firebase(directory: Path, devices: int, workers: int) -> dict[str, float]:
    import firebase_admin
    import google.oauth2.credentials
    from firebase_admin import credentials, messaging

    from pushdeck.core.providers.credentials import FcmCredential
    from pushdeck.core.providers.fcm import FcmProvider

    facts = json.loads((directory / "fcm.json").read_text())
    account = facts["account"]

    async def access_token() -> str:  # not timed: Pushdeck's command pays for its own
        provider = FcmProvider(FcmCredential(account, facts["url"], str(directory / "ca.pem")))
        token = await provider.tokens.get()
        await provider.aclose()
        return token

    token = asyncio.run(access_token())

    class Static(credentials.Base):  # type: ignore[misc]
        def get_credential(self) -> Any:
            return google.oauth2.credentials.Credentials(token)

    messaging._MessagingService.FCM_URL = facts["url"] + "/v1/projects/{0}/messages:send"
    app = firebase_admin.initialize_app(Static(), {"projectId": account["project_id"]})
    notes = [
        messaging.Message(
            token=f"fcm-token-{i:012d}-{'x' * 140}",
            notification=messaging.Notification(title=f"Hi User{i}", body=MESSAGE["body"]),
            data={"pushdeck_campaign": "bench"},
        )
        for i in range(devices)
    ]

    async def main() -> tuple[float, int]:
        await messaging.send_each_async(notes[:1], app=app)  # warm up: connect, TLS
        cpu, start = time.process_time(), time.perf_counter()
        ok = 0
        for begin in range(0, devices, 500):
            batch = await messaging.send_each_async(notes[begin : begin + 500], app=app)
            ok += batch.success_count
        CPU.append(time.process_time() - cpu)
        return time.perf_counter() - start, ok

    elapsed, ok = asyncio.run(main())
    return {"devices": devices, "ok": ok, "elapsed": elapsed, "cpu_us": CPU[-1] / devices * 1e6}


def peer_pywebpush(directory: Path, devices: int, workers: int) -> dict[str, float]:
    from concurrent.futures import ThreadPoolExecutor

    import requests
    from py_vapid import Vapid
    from pywebpush import webpush

    facts = json.loads((directory / "webpush.json").read_text())
    origin, h1 = facts["url"], f"https://127.0.0.1:{facts['h1_port']}"
    vapid = Vapid.from_pem((directory / "vapid.pem").read_bytes())
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=workers)
    session.mount("https://", adapter)
    session.verify = str(directory / "ca.pem")
    subs = facts["subscriptions"][:devices]

    def one(index: int) -> bool:
        endpoint, p256dh, auth = subs[index]
        info = {"endpoint": endpoint.replace(origin, h1), "keys": {"p256dh": p256dh, "auth": auth}}
        data = json.dumps({"title": f"Hi User{index}", "body": MESSAGE["body"]})
        claims = {"sub": "mailto:bench@example.com", "aud": origin}
        response = webpush(
            info, data, vapid_private_key=vapid, vapid_claims=claims, ttl=2419200,
            requests_session=session,
        )  # fmt: skip
        return getattr(response, "status_code", 0) == 201

    one(0)  # warm up
    with ThreadPoolExecutor(workers) as pool:
        cpu, start = time.process_time(), time.perf_counter()
        ok = sum(pool.map(one, range(devices)))
        elapsed, used = time.perf_counter() - start, time.process_time() - cpu
    return {"devices": devices, "ok": ok, "elapsed": elapsed, "cpu_us": used / devices * 1e6}


# --------------------------------------------------------------------------- driver


def line(name: str, r: dict[str, float]) -> str:
    rate = r["devices"] / r["elapsed"]
    return (
        f"{name:10s} {rate:7.0f} msgs/s  {r['elapsed']:6.2f} s  ok {int(r['ok'])}/"
        f"{int(r['devices'])}  CPU {r['cpu_us']:5.0f} µs/msg  peak RSS {r['rss_mb']:6.1f} MB"
    )


def compare(args: argparse.Namespace, directory: Path) -> None:
    kind = args.kind
    latency = args.latency_ms / 1000
    fake = start_fake(kind, directory, latency, args.devices)
    try:
        workspace = build_workspace(kind, directory, args.devices)
        peer_name = {"apns": "aioapns", "fcm": "firebase", "webpush": "pywebpush"}[kind]
        how = "500 per call" if kind == "fcm" else f"{args.peer_workers} in flight"
        print(
            f"{kind}: {args.devices} devices, fake answers after {args.latency_ms:g} ms, "
            f"{peer_name} {how}; load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        # --before: another version's command too, in the same rounds (before/after).
        names = [peer_name, *(["before"] if args.before else []), "pushdeck"]
        rates: dict[str, list[float]] = {name: [] for name in names}
        cpus: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(args.rounds):
            for name in rates:
                if name == "pushdeck":
                    result = run_pushdeck(directory, workspace)
                elif name == "before":
                    result = run_pushdeck(directory, workspace, args.before)
                else:
                    result = run_peer(kind, directory, args.devices, args.peer_workers)
                print(line(name, result), flush=True)
                rates[name].append(result["devices"] / result["elapsed"])
                cpus[name].append(result["cpu_us"])
    finally:
        assert fake.stdin is not None
        fake.stdin.close()
        fake.wait(30)
    med = {name: statistics.median(values) for name, values in rates.items()}
    cpu = {name: statistics.median(values) for name, values in cpus.items()}
    before = (
        f"before {med['before']:.0f} msgs/s ({cpu['before']:.0f} µs/msg, ratio "
        f"{med['before'] / med[peer_name]:.2f}×), "
        if "before" in med
        else ""
    )
    print(
        f"median of {args.rounds}: {before}pushdeck {med['pushdeck']:.0f} msgs/s "
        f"({cpu['pushdeck']:.0f} µs/msg), {peer_name} {med[peer_name]:.0f} msgs/s "
        f"({cpu[peer_name]:.0f} µs/msg); ratio {med['pushdeck'] / med[peer_name]:.2f}×; "
        f"load {os.getloadavg()[0]:.1f}"
    )


def rss(args: argparse.Namespace, directory: Path) -> None:
    fake = start_fake("apns", directory, 0.0, 0)
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            workspace = build_workspace("apns", directory, size)
            result = run_pushdeck(directory, workspace)
            print(f"{size:8d} " + line("pushdeck", result), flush=True)
            workspace.unlink()
    finally:
        assert fake.stdin is not None
        fake.stdin.close()
        fake.wait(30)


def cpu(args: argparse.Namespace, directory: Path) -> None:
    """Client CPU per APNs message, whole command at 0 ms, this source and (--before)
    another one alternating on the same workspace: medians of --rounds."""
    sources = {"after": str(ROOT / "src")}
    if args.before:
        sources = {"before": args.before, **sources}
    compile_bytecode(*sources.values())
    fake = start_fake("apns", directory, 0.0, 0)
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            workspace = build_workspace("apns", directory, size)
            print(f"{size} devices; load {os.getloadavg()[0]:.1f}", flush=True)
            per: dict[str, list[float]] = {name: [] for name in sources}
            for _ in range(args.rounds):
                for name, source in sources.items():
                    result = run_pushdeck(directory, workspace, source)
                    per[name].append(result["cpu_us"])
                    print(f"  {name:6s} " + line("pushdeck", result), flush=True)
            medians = ", ".join(
                f"{name} {statistics.median(values):.0f} µs/msg" for name, values in per.items()
            )
            print(f"{size}: median of {args.rounds}: {medians}; load {os.getloadavg()[0]:.1f}")
            workspace.unlink()
    finally:
        assert fake.stdin is not None
        fake.stdin.close()
        fake.wait(30)


# Categories of client CPU: a sample counts for the first whose marker appears anywhere
# in its stack (outermost first in this list's order), else "everything else".
PROFILE_CATEGORIES = [
    ("garbage collector (--native only)", ("gc_collect",)),
    ("start-up imports", ("_find_and_load",)),
    ("TLS handshake / trust store", ("_configure_context", "do_handshake", "load_verify")),
    ("personalization", ("Personalizer.", "render_plain", "device_context")),
    ("payload build (JSON)", ("build_apns", "apns_body", "splice")),
    ("device rows (row_to_device)", ("row_to_device",)),
    ("journal: mark in flight", ("mark_in_flight",)),
    ("journal: outcomes", ("record_finished", "write_outcomes", "requeue_in_flight")),
    ("queued pages", ("queued_page",)),
    ("journal: materialize", ("materialize_journal",)),
    ("HTTP/2 send + receive", ("http2.py", "/h2/", "/hpack/")),
]


def profile_categories(stacks: dict[str, int]) -> dict[str, int]:
    shares: dict[str, int] = {name: 0 for name, _ in PROFILE_CATEGORIES}
    shares["everything else (dispatcher, tasks, event loop, TLS records)"] = 0
    for stack, count in stacks.items():
        for name, markers in PROFILE_CATEGORIES:
            if any(marker in stack for marker in markers):
                shares[name] += count
                break
        else:
            shares["everything else (dispatcher, tasks, event loop, TLS records)"] += count
    return shares


def profile_run(
    directory: Path, workspace: Path, source: str, out: Path, native: bool = False
) -> tuple[dict[str, float], dict[str, int]]:
    """One campaign command under py-spy: its result and raw stacks (frame;frame count)."""
    copy = directory / "run.pushdeck"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(workspace, copy)
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    command = [
        spy, "record", "-r", "250", "-f", "raw", "-o", str(out), *(["-n"] if native else []),
        "--",
        sys.executable, "-m", "pushdeck", "--workspace", str(copy),
        "campaigns", "send", "bench", "--json",
    ]  # fmt: skip
    stdout, _, elapsed, cpu_s, rss_mb = measured(command, cli_env(directory, source))
    start = stdout.index("{")  # py-spy prints its own lines after the command's JSON
    counts = json.JSONDecoder().raw_decode(stdout[start:])[0]["counts"]
    stacks: dict[str, int] = {}
    for raw in out.read_text().splitlines():
        stack, _, count = raw.rpartition(" ")
        if stack.startswith("process ") and ";" in stack:  # older py-spy: pid first
            stack = stack.split(";", 1)[1]
        if not stack.startswith("thread (0x") or "MainThread" in stack.split(";", 1)[0]:
            stacks[stack] = stacks.get(stack, 0) + int(count)
    total = sum(counts.values())
    return {"devices": total, "elapsed": elapsed, "cpu_s": cpu_s, "rss_mb": rss_mb}, stacks


def profile(args: argparse.Namespace, directory: Path) -> None:
    sources = {"after": str(ROOT / "src")}
    if args.before:
        sources = {"before": args.before, **sources}
    fake = start_fake("apns", directory, 0.0, 0)
    try:
        workspace = build_workspace("apns", directory, args.devices)
        print(f"{args.devices} devices, 0 ms; load {os.getloadavg()}", flush=True)
        merged: dict[str, dict[str, int]] = {name: {} for name in sources}
        for round_ in range(args.rounds):
            for name, source in sources.items():
                out = directory / f"profile-{name}-{round_}.txt"
                result, stacks = profile_run(directory, workspace, source, out, args.native)
                for stack, count in stacks.items():
                    merged[name][stack] = merged[name].get(stack, 0) + count
                print(
                    f"  {name:6s} {result['elapsed']:.2f} s, CPU {result['cpu_s']:.2f} s"
                    f" (with the profiler) = {result['cpu_s'] / result['devices'] * 1e6:.0f}"
                    " µs/msg",
                    flush=True,
                )
        print(f"load {os.getloadavg()}")
    finally:
        assert fake.stdin is not None
        fake.stdin.close()
        fake.wait(30)
    for name, stacks in merged.items():
        total = sum(stacks.values()) or 1
        print(f"\n{name}: {total} samples")
        for category, count in profile_categories(stacks).items():
            print(f"  {count / total:6.1%}  {category}")
        own: dict[str, int] = {}
        for stack, count in stacks.items():
            leaf = stack.rsplit(";", 1)[-1]
            own[leaf] = own.get(leaf, 0) + count
        print("  top by own time:")
        for leaf, count in sorted(own.items(), key=lambda kv: -kv[1])[: args.top]:
            print(f"  {count / total:6.1%}  {leaf}")
        if args.save:
            Path(f"{args.save}-{name}.txt").write_text(
                "\n".join(f"{s} {c}" for s, c in stacks.items())
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "kind", nargs="?", choices=["apns", "fcm", "webpush", "rss", "cpu", "profile"]
    )
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--latency-ms", type=float, default=60.0)
    parser.add_argument("--peer-workers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--before", help="another version's src/ to alternate with")
    parser.add_argument("--top", type=int, default=25, help="profile: entries to list")
    parser.add_argument("--native", action="store_true", help="profile: C frames too")
    parser.add_argument("--save", help="profile: write the merged stacks to SAVE-<name>.txt")
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--peer", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        kind, directory, latency = args.serve
        return serve(kind, Path(directory), float(latency))
    if args.peer:
        kind, directory, devices, workers = args.peer
        return peer_child(kind, Path(directory), int(devices), int(workers))
    compile_bytecode(*filter(None, [pushdeck_source(), args.before]))
    with tempfile.TemporaryDirectory() as tmp:
        make_keys(Path(tmp))
        if args.kind == "rss":
            rss(args, Path(tmp))
        elif args.kind == "cpu":
            cpu(args, Path(tmp))
        elif args.kind == "profile":
            profile(args, Path(tmp))
        else:
            compare(args, Path(tmp))


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    main()
