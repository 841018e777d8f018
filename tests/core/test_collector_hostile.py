"""The collector against a hostile network: every test talks to it over real sockets.

A collector runs in a thread (or, for the flood, as ``pushdeck collect`` in its own
process with the common 1,024 file-descriptor limit); requests are raw bytes, the
way an attacker or a broken client sends them, and each must get an HTTP answer
while good events keep being recorded.
"""

from __future__ import annotations

import json
import os
import resource
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.model import SendStatus
from pushdeck.core.engagement.collector import Collector, RateLimitedLog, collector_token
from pushdeck.core.engagement.collector_http import HostCheck
from pushdeck.core.store import Workspace
from tests.core.campaign_helpers import add_devices, result, send_through_fake

GOOD_DEVICES = [f"t{i}" for i in range(10)]


@pytest.fixture
def workspace(ws: Workspace, ws_target: Path | str) -> Path | str:
    """C1 sent to t0…t9 (accepted) and 'refused' (rejected); 'late' joined afterwards."""
    add_devices(ws, [{"token": t} for t in [*GOOD_DEVICES, "refused"]])
    doc = {"name": "C1", "app": "shop", "audience": {"all": True}, "message": {"title": "x"}}
    create_campaign(ws, spec_from_dict(doc))
    send_through_fake(ws, "C1", refused=[result(SendStatus.REJECTED, reason="BadDeviceToken")])
    add_devices(ws, [{"token": "late"}])
    collector_token(ws)
    return ws_target  # the file, or the PostgreSQL URI (with its password)


@pytest.fixture
def server(workspace: Path) -> Iterator[Collector]:
    collector = Collector(workspace, header_timeout=1.0, body_timeout=1.0).start()
    yield collector
    collector.stop()


def event(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"e{i}",
        "kind": "delivered" if i % 2 else "opened",
        "campaign": "C1",
        "device": GOOD_DEVICES[i % len(GOOD_DEVICES)],
        "at": "2026-01-05T09:00:00Z",
        **extra,
    }


def post(server: Collector, body: object, **headers: str) -> httpx.Response:
    sent = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}
    content = json.dumps(body).encode()  # Python's encoder: Infinity and NaN pass
    return httpx.post(server.url, content=content, headers={**sent, **headers}, timeout=10)


def pushdeck(workspace: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "pushdeck", "--workspace", str(workspace), *args]


def exchange(port: int, data: bytes, *, close_write: bool = False) -> bytes:
    """Send raw bytes, read the answer until the server closes (a reset fails the test)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def answer_of(raw: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), f"no HTTP answer, got {raw[:80]!r}"
    return int(head[9:12]), json.loads(body) if body else {}


def request(
    body: bytes = b"[]",
    *,
    token: bytes | None = None,
    length: bytes | None = None,
    host: bytes = b"127.0.0.1",
    line: bytes = b"POST /events HTTP/1.1",
    extra: bytes = b"",
) -> bytes:
    headers = [
        line,
        b"Host: " + host,
        b"Authorization: Bearer " + (token if token is not None else b"TOKEN"),
        b"Content-Type: application/json",
        b"Content-Length: " + (length if length is not None else str(len(body)).encode()),
    ]
    return b"\r\n".join(headers) + b"\r\n" + extra + b"\r\n" + body


# ---- one bad event never costs the good ones


def hostile_batch() -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """1,000 good events with hostile ones between them; the expected (index, field)s."""
    bad: list[tuple[str, Any]] = [
        ("campaign", event(0, campaign="²")),  # a digit to str.isdigit, not to int()
        ("campaign", event(0, campaign=2**70)),  # a number beyond 64 bits
        ("campaign", event(0, campaign="99999999999999999999999")),  # ... as digits
        ("device", event(0, device="\ud800")),  # a lone surrogate: not storable text
        ("kind", event(0, kind={"nested": [1, [2, [3]]]})),
        ("at", event(0, at=1714550400)),
        ("at", event(0, at="9999-12-31T23:59:59-05:00")),  # overflows when moved to UTC
        ("event_id", event(0, event_id="x" * 10_000)),
        ("variant", event(0, variant=["A"])),
        ("kind", event(0, kind=float("inf"))),
        ("(event)", ["not", "an", "object"]),
        ("kind", {"__error__": "x" * 100_000}),  # the file reader's old marker: just a key
    ]
    events: list[Any] = [event(i) for i in range(1000)]
    expected = []
    for n, (field, hostile) in enumerate(bad):
        index = 50 + n * 80
        events.insert(index, hostile)
        expected.append((index, field))
    return events, expected


def test_a_hostile_event_in_a_batch_costs_only_itself(server: Collector, workspace: Path) -> None:
    events, expected = hostile_batch()
    answer = post(server, {"events": events})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["received"], body["recorded"], body["rejected"]) == (1012, 1000, 12)
    assert [(e["row"], e["field"]) for e in body["errors"]] == expected
    reasons = {e["field"]: e["reason"] for e in body["errors"]}
    assert "beyond 64 bits" in reasons["campaign"] or "no campaign" in reasons["campaign"]
    assert "invalid Unicode" in reasons["device"]
    assert all(len(e["reason"]) < 200 for e in body["errors"])  # no echo of 10,000 x's
    with Workspace.open(workspace, create=False) as ws:
        assert ws.scalar("SELECT count(*) FROM events") == 1000


def test_events_import_rejects_the_same_hostile_events(workspace: Path, tmp_path: Path) -> None:
    events, expected = hostile_batch()
    path = tmp_path / "events.ndjson"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    done = subprocess.run(
        pushdeck(workspace, "events", "import", str(path), "--json"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert (report["recorded"], report["rejected"]) == (1000, 12)
    # File rows count from 1, batch indexes from 0.
    assert [(e["row"] - 1, e["field"]) for e in report["errors"]] == expected


# ---- events are checked against the send journal


def test_events_the_journal_cannot_explain_are_rejected(server: Collector) -> None:
    now = datetime.now(UTC)
    soon = (now + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")  # a fast phone clock
    events = [
        event(1),
        event(2, device="late"),  # joined after the send: C1 never sent to it
        event(3, device="refused", kind="delivered"),  # the provider rejected the send
        event(4, device="refused", kind="opened"),
        event(5, at=(now + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")),
        event(6, at=soon),
    ]
    body = post(server, events).json()
    assert body["recorded"] == 2
    rejected = {e["row"]: (e["field"], e["reason"]) for e in body["errors"]}
    assert rejected[1] == ("device", "the campaign did not send to this device")
    assert rejected[2][0] == rejected[3][0] == "device"
    assert "refused" in rejected[2][1] and "rejected" in rejected[2][1]
    assert rejected[4][0] == "at" and "in the future" in rejected[4][1]
    assert set(rejected) == {1, 2, 3, 4}


# ---- every request gets an HTTP answer

DEEP = b"[" * 100_000 + b"]" * 100_000
HOSTILE_REQUESTS: dict[str, tuple[bytes, int, bool]] = {
    # id: (raw request, expected status, close our sending side after it)
    "non-ASCII token (UTF-8)": (request(token="étété".encode()), 401, False),
    "non-ASCII token (Latin-1)": (request(token=b"\xff\xfe\x00"), 401, False),
    "100,000-deep JSON": (request(DEEP), 400, False),
    "deep JSON inside events": (request(b'{"events": ' + DEEP + b"}"), 400, False),
    "5,000-digit number": (request(b"[" + b"9" * 5000 + b"]"), 400, False),
    "numbers for text": (request(b'[{"kind": 1e999, "campaign": NaN}]'), 400, False),
    "not JSON": (request(b"{oops"), 400, False),
    "not UTF-8": (request(b'"\xff\xfe"'), 400, False),
    "length: letters": (request(length=b"abc"), 400, False),
    "length: negative": (request(length=b"-1"), 400, False),
    "length: exponent": (request(length=b"1e3"), 400, False),
    "length: Arabic digits": (request(length="١٢".encode()), 400, False),
    "length: 40 digits": (request(length=b"9" * 40), 400, False),
    "length: two different": (request(b"[]", extra=b"Content-Length: 5\r\n"), 400, False),
    "chunked": (request(extra=b"Transfer-Encoding: chunked\r\n"), 411, False),
    "no length": (
        b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer TOKEN\r\n\r\n",
        411,
        False,
    ),
    "method BREW": (request(line=b"BREW /events HTTP/1.1"), 405, False),
    "GET events": (request(line=b"GET /events HTTP/1.1"), 405, False),
    "unknown path": (request(line=b"POST /../../etc/passwd HTTP/1.1"), 404, False),
    "absolute URL": (request(line=b"POST http://evil.example/events HTTP/1.1"), 400, False),
    "HTTP/2 preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505, False),
    "no version": (b"POST /events\r\nHost: 127.0.0.1\r\n\r\n", 400, False),
    "NUL in request line": (request(line=b"POST /ev\x00ents HTTP/1.1"), 400, False),
    "header without colon": (request(extra=b"garbage\r\n"), 400, False),
    "space before colon": (request(extra=b"X-A : b\r\n"), 400, False),
    "folded header": (request(extra=b"X-A: b\r\n  continued\r\n"), 400, False),
    "head over 16 KB": (request(extra=b"X-A: " + b"a" * 20_000 + b"\r\n"), 431, False),
    "TLS hello, then EOF": (bytes.fromhex("160301020001") + os.urandom(200), 400, True),
    "body shorter, then EOF": (request(b"[{}]", length=b"100"), 400, True),
    "body shorter, kept open": (request(b"[{}]", length=b"100"), 408, False),
    "head never finished": (b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\n", 408, False),
    "Host: evil.example": (request(host=b"evil.example"), 421, False),
    "Host: evil.example:port": (request(host=b"evil.example:8765"), 421, False),
    "no Host": (b"GET /health HTTP/1.1\r\n\r\n", 421, False),
}


@pytest.mark.parametrize("name", list(HOSTILE_REQUESTS))
def test_every_hostile_request_gets_an_http_answer(server: Collector, name: str) -> None:
    raw, expected, close_write = HOSTILE_REQUESTS[name]
    raw = raw.replace(b"Bearer TOKEN", b"Bearer " + server.token.encode())
    status, body = answer_of(exchange(server.port, raw, close_write=close_write))
    assert status == expected, body
    assert body.get("error") or body.get("errors")  # the reason, or each event's
    # ... and the collector is still there for the next client.
    assert post(server, event(1)).status_code == 200


def test_a_body_longer_than_its_length_is_answered_cleanly(server: Collector) -> None:
    good = json.dumps([event(1)]).encode()
    raw = request(good + b"\r\nGARBAGE" * 20_000, length=str(len(good)).encode())
    raw = raw.replace(b"TOKEN", server.token.encode())
    status, body = answer_of(exchange(server.port, raw))  # a reset here would raise
    assert status == 200 and body["recorded"] == 1


def test_an_oversized_body_gets_413_before_the_upload_ends(server: Collector) -> None:
    declared = 100 * 1024 * 1024
    head = request(b"", length=str(declared).encode()).replace(b"TOKEN", server.token.encode())
    chunk = b"[" * 65536
    sent = 0
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 1)
            if readable:
                break  # the server answered while we were still sending
            if writable:
                sent += sock.send(chunk)
        sock.setblocking(True)
        answer = b""
        while data := sock.recv(65536):  # the server closes cleanly: EOF, not a reset
            answer += data
    status, body = answer_of(answer)
    assert status == 413 and "smaller batches" in body["error"]
    assert sent < declared // 2


def test_the_host_header_must_name_the_collector(workspace: Path) -> None:
    collector = Collector(workspace, allowed_hosts=["events.example.com"]).start()
    try:
        for host, ok in [
            (f"127.0.0.1:{collector.port}", True),
            (f"localhost:{collector.port}", True),
            ("events.example.com", True),  # behind a reverse proxy that keeps Host
            ("evil.example", False),
            ("127.0.0.1.evil.example", False),
            ("localhost:x", False),
        ]:
            answer = post(collector, event(1), Host=host)
            assert (answer.status_code != 421) == ok, host
    finally:
        collector.stop()


def test_addresses_pass_the_host_check_foreign_names_do_not() -> None:
    everywhere = HostCheck("0.0.0.0")
    assert everywhere.allows("192.168.1.20:8765") and everywhere.allows("[fe80::1]:8765")
    assert everywhere.allows("localhost") and everywhere.allows(socket.gethostname())
    assert not everywhere.allows("evil.example") and not everywhere.allows("evil.example:8765")
    loopback = HostCheck("127.0.0.1")
    assert loopback.allows("10.0.2.2:8765")  # the Android emulator's name for the host
    assert not loopback.allows("workstation.lan:8765")  # a name it does not listen on
    assert not HostCheck("192.168.1.20").allows("localhost")
    assert not loopback.allows("[::1") and not loopback.allows("")


def test_collect_on_a_network_address_warns_about_clear_text(workspace: Path) -> None:
    # 192.0.2.1 (TEST-NET-1) is on no interface: binding fails, so nothing is exposed,
    # but the warning comes first, and the failure is one clear message.
    done = subprocess.run(
        pushdeck(workspace, "collect", "--host", "192.0.2.1", "--port", "0"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "clear text" in done.stderr and "TLS reverse proxy" in done.stderr
    assert "cannot listen on 192.0.2.1" in done.stderr
    assert done.returncode == 1 and "Traceback" not in done.stderr


# ---- a flood of idle and slow connections


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _limit_files(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


def test_idle_and_slow_connections_cannot_lock_out_a_real_post(
    workspace: Path, tmp_path: Path
) -> None:
    flood = 1100
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < flood + 200:  # our own end of each connection needs a descriptor too
        wanted = min(hard, 4096)
        if wanted < flood + 200:
            pytest.skip(f"needs {flood + 200} file descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    port = _free_port()
    stderr = tmp_path / "stderr.txt"
    with stderr.open("wb") as err:
        collector = subprocess.Popen(
            pushdeck(workspace, "collect", "--port", str(port)),
            stdout=subprocess.DEVNULL,
            stderr=err,
            preexec_fn=lambda: _limit_files(1024),  # the common default: the flood exceeds it
        )
    attackers: list[socket.socket] = []
    try:
        url = f"http://127.0.0.1:{port}"
        token = _wait_until_listening(url, workspace)
        for n in range(flood):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            except OSError:
                continue  # the server may already be closing the oldest ones
            if n % 2:  # half idle, half slowloris: a head that never ends
                sock.sendall(b"POST /events HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            attackers.append(sock)
        for sock in attackers[1::2]:
            try:
                sock.send(b"X-Slow: 1\r\n")
            except OSError:
                pass
        answer = httpx.post(
            f"{url}/events",
            json=event(1),
            headers={"Authorization": f"Bearer {token}"},
            timeout=20,  # a bound on the test, not a timing assertion
        )
        assert answer.status_code == 200 and answer.json()["recorded"] == 1
        assert collector.poll() is None
    finally:
        for sock in attackers:
            sock.close()
        collector.terminate()
        collector.wait(20)
    written = stderr.read_bytes()
    assert len(written) < 20_000, written[:2000]


def _wait_until_listening(url: str, workspace: Path) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    with Workspace.open(workspace, create=False) as ws:
        return collector_token(ws)


def test_the_error_log_is_rate_limited(tmp_path: Path) -> None:
    now = [0.0]
    path = tmp_path / "log.txt"
    with path.open("w") as stream:
        log = RateLimitedLog(stream, burst=10, window=60, clock=lambda: now[0])
        for _ in range(100_000):
            log("socket.accept() out of system resource\nTraceback ...")
        now[0] = 61.0
        log("one more")
    lines = path.read_text().splitlines()
    assert len(lines) == 12  # ten, the count of the rest, and the next window's first
    assert lines[10] == "pushdeck collect: 99990 more messages suppressed in the last minute"
    assert lines[0] == "pushdeck collect: socket.accept() out of system resource Traceback ..."
