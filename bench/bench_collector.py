"""Event collector throughput: events/s through ``pushdeck collect`` over real HTTP.

    .venv/bin/python bench/bench_collector.py [--before main] [--rounds 3]

Runs the same load against two versions of the code in one go: ``--before REV``
(default ``main``, exported with ``git archive`` into a temporary folder) and the
working tree. For each version, in rounds that alternate between them (and which goes
first), so a busy stretch of a shared machine does not land on one side only:

- a fresh workspace built by that version: one app, 5,000 APNs devices, one campaign
  whose journal says every device was sent to (accepted);
- ``pushdeck collect`` started by that version in its own process on 127.0.0.1;
- the load, from this process (asyncio, raw HTTP/1.1, a new connection per post):
  *single*: 5,000 posts of one event each, 16 clients at once (phones reporting);
  *batch*: 500 posts of 100 events each, 4 clients at once (a relay service);
  every answer is checked (status 200, all recorded).

Printed: events/s per version and load, and the collector process's CPU time per
event (from /proc; steadier than wall time on a shared machine), medians of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEVICES = 5000
LOADS = {"single": (5000, 1, 16), "batch": (500, 100, 4)}  # posts, events/post, clients

BUILD = """
import sys
from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.engagement.collector import collector_token
from pushdeck.core.common.model import App
from pushdeck.core.store.apps import add_app
from pushdeck.core.store.workspace import Workspace, utcnow

path, devices = sys.argv[1], int(sys.argv[2])
with Workspace.open(path) as ws:
    add_app(ws, App("bench"))
    doc = {"name": "Bench", "app": "bench", "audience": {"all": True},
           "message": {"title": "Hi"}}
    campaign = create_campaign(ws, spec_from_dict(doc))
    now = utcnow()
    with ws.transaction() as conn:
        conn.executemany(
            "INSERT INTO devices (app_id, platform, provider, token, created_at)"
            " VALUES (1, 'ios', 'apns', ?, ?)",
            [(f"{i:064x}", now) for i in range(devices)],
        )
        conn.execute(
            "INSERT INTO journal (campaign_id, device_id, platform, state, sent_at, finished_at)"
            " SELECT ?, id, 'ios', 'accepted', ?, ? FROM devices",
            (campaign.id, now, now),
        )
    print(collector_token(ws))
"""


def export_tree(rev: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def child_env(src: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(src)}


def build_workspace(src: Path, path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", BUILD, str(path), str(DEVICES)],
        env=child_env(src),
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def start_collector(src: Path, workspace: Path, port: int) -> subprocess.Popen[bytes]:
    command = ["collect", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "pushdeck", "--workspace", str(workspace), *command],
        env=child_env(src),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the collector did not start")


async def post(port: int, token: str, events: list[dict[str, str]]) -> int:
    body = json.dumps(events).encode()
    head = (
        f"POST /events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + body)
    answer = await reader.read()
    writer.close()
    status = int(answer[9:12])
    recorded = json.loads(answer.partition(b"\r\n\r\n")[2])["recorded"]
    if status != 200 or recorded != len(events):
        raise RuntimeError(f"unexpected answer: {answer[:300]!r}")
    return recorded


def make_events(label: str, posts: int, per_post: int) -> list[list[dict[str, str]]]:
    batches = []
    for p in range(posts):
        batch = []
        for e in range(per_post):
            n = p * per_post + e
            batch.append(
                {
                    "event_id": f"{label}-{n}",
                    "kind": ("delivered", "opened")[n % 2],
                    "campaign": "Bench",
                    "device": f"{n % DEVICES:064x}",
                    "at": "2026-01-05T09:00:00Z",
                }
            )
        batches.append(batch)
    return batches


async def run_load(
    port: int, token: str, batches: list[list[dict[str, str]]], clients: int
) -> float:
    queue = list(reversed(batches))
    recorded = 0

    async def client() -> None:
        nonlocal recorded
        while queue:
            done = await post(port, token, queue.pop())
            recorded += done  # not `recorded += await …`: that reads it before the await

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    if recorded != sum(len(batch) for batch in batches):
        raise RuntimeError(f"{recorded} events recorded, not all of them")
    return recorded / elapsed


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(src: Path, workspace: Path, token: str, round_no: int) -> dict[str, float]:
    """events/s and the collector's CPU µs per event, per load."""
    port = free_port()
    collector = start_collector(src, workspace, port)
    try:
        results = {}
        for name, (posts, per_post, clients) in LOADS.items():
            batches = make_events(f"r{round_no}-{name}", posts, per_post)
            cpu = cpu_seconds(collector.pid)
            results[name] = asyncio.run(run_load(port, token, batches, clients))
            used = cpu_seconds(collector.pid) - cpu
            results[f"{name} cpu"] = used / (posts * per_post) * 1e6
        return results
    finally:
        collector.terminate()
        collector.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default="main", help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-collector-") as tmp:
        directory = Path(tmp)
        (directory / "before").mkdir()
        trees = {
            f"before ({args.before})": export_tree(args.before, directory / "before"),
            "after (working tree)": ROOT / "src",
        }
        workspaces = {}
        for label, src in trees.items():
            path = directory / f"{len(workspaces)}.pushdeck"
            workspaces[label] = (path, build_workspace(src, path))
        columns = [*LOADS, *(f"{name} cpu" for name in LOADS)]
        results: dict[str, dict[str, list[float]]] = {
            label: {name: [] for name in columns} for label in trees
        }
        for round_no in range(args.rounds):
            order = list(trees.items())
            for label, src in order if round_no % 2 == 0 else reversed(order):
                path, token = workspaces[label]
                measured = measure(src, path, token, round_no)
                for name, value in measured.items():
                    results[label][name].append(value)
                shown = ", ".join(
                    f"{n} {measured[n]:,.0f} events/s ({measured[n + ' cpu']:,.0f} µs CPU/event)"
                    for n in LOADS
                )
                print(f"round {round_no + 1}: {label}: {shown}", flush=True)
        print()
        heads = [f"{n} events/s" for n in LOADS] + [f"{n}: collector CPU µs/event" for n in LOADS]
        print("| version (medians) | " + " | ".join(heads) + " |")
        print("|---|" + "---:|" * len(columns))
        for label in trees:
            cells = " | ".join(f"{statistics.median(results[label][c]):,.0f}" for c in columns)
            print(f"| {label} | {cells} |")


if __name__ == "__main__":
    main()
