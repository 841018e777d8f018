"""The shipped example service worker, run under Node with a stubbed worker scope."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.model import CAMPAIGN_KEY, VARIANT_KEY, Action, App, Message
from pushdeck.core.engagement.collector import Collector, collector_token
from pushdeck.core.messages.payloads import build_webpush
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from tests.core.campaign_helpers import add_devices, send_through_fake

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "src" / "pushdeck" / "resources" / "service-worker.js"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
#: The fields of one event as ``pushdeck.core.engagement.events`` documents them.
EVENT_FIELDS = {"event_id", "kind", "campaign", "variant", "action_id", "device", "at"}
ENDPOINT = "https://push.example/sub1"


def sale(**data: str) -> Message:
    return Message(
        title="Sale",
        body="50% off",
        web_icon="https://cdn.example.com/i.png",
        image_url="https://cdn.example.com/h.png",
        web_tag="sale",
        web_require_interaction=True,
        actions=(Action("buy", "Buy"),),
        url="https://shop.example.com/sale",
        data=data,
    )


@needs_node
def test_service_worker_shows_opens_and_reports() -> None:
    # What the campaign engine puts in every payload's data (templating.py).
    message = sale(**{CAMPAIGN_KEY: "spring", VARIANT_KEY: "B"})
    payload = build_webpush(message).body.decode()
    harness = ROOT / "tests" / "core" / "js" / "sw_harness.js"
    out = subprocess.run(
        [str(NODE), str(harness), str(WORKER), payload],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    record = json.loads(out.stdout)
    (shown,) = record["shown"]
    assert shown["title"] == "Sale"
    options = shown["options"]
    assert options["body"] == "50% off" and options["tag"] == "sale"
    assert options["requireInteraction"] is True
    assert options["actions"] == [{"action": "buy", "title": "Buy"}]
    assert options["data"]["url"] == "https://shop.example.com/sale"
    assert record["opened"] == ["https://shop.example.com/sale"] * 2
    assert {p["url"] for p in record["posted"]} == {"http://127.0.0.1:8765/events"}
    bodies = [p["body"] for p in record["posted"]]
    assert [(b["kind"], b["action_id"]) for b in bodies] == [
        ("opened", ""),
        ("action", "buy"),
        ("dismissed", ""),
    ]
    for body in bodies:
        assert set(body) == EVENT_FIELDS
        assert (body["campaign"], body["variant"], body["device"]) == ("spring", "B", ENDPOINT)
    assert len({b["event_id"] for b in bodies}) == 3


@needs_node
def test_service_worker_falls_back_on_campaign_and_variant_keys() -> None:
    payload = build_webpush(sale(campaign="old", variant="A")).body.decode()
    harness = ROOT / "tests" / "core" / "js" / "sw_harness.js"
    out = subprocess.run(
        [str(NODE), str(harness), str(WORKER), payload],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    first = json.loads(out.stdout)["posted"][0]["body"]
    assert (first["campaign"], first["variant"]) == ("old", "A")


# -- end to end: the worker posts to the real collector ---------------------------------
# A browser-like scope around the worker: its fetch() goes to the real collector over
# HTTP (Node's own fetch) and records exactly what the worker sent; ``lose`` makes the
# first N answers get lost *after* the collector recorded the event (a network error
# as the worker sees it), so the worker retries.
HARNESS = r"""
const fs = require("fs");
const vm = require("vm");
const [swPath, payloadJson, endpoint, lose] = process.argv.slice(2);
const record = { posted: [] };
const listeners = {};
let toLose = Number(lose);
const scope = {
  addEventListener: (type, fn) => { listeners[type] = fn; },
  registration: {
    showNotification: async (title, options) => { record.shown = { title, options }; },
    pushManager: { getSubscription: async () => ({ endpoint }) },
  },
  clients: { matchAll: async () => [], openWindow: async () => {} },
  setTimeout: (fn) => setTimeout(fn, 0),  // retry at once: the test waits for nothing
  fetch: async (url, init) => {
    const response = await fetch(url, init);
    const answer = await response.json();
    record.posted.push({ url, init: { ...init, body: JSON.parse(init.body) },
                         status: response.status, answer });
    if (toLose > 0) { toLose--; throw new TypeError("Failed to fetch"); }
    return response;
  },
  console, Date, JSON, Promise,
};
scope.self = scope;
vm.createContext(scope);
vm.runInContext(fs.readFileSync(swPath, "utf8"), scope);

async function fire(type, event) {
  const pending = [];
  listeners[type]({ ...event, waitUntil: (p) => pending.push(p) });
  await Promise.all(pending);
}

(async () => {
  const payload = JSON.parse(payloadJson);
  await fire("push", { data: { json: () => payload, text: () => payloadJson } });
  const { title, options } = record.shown;
  // What the browser adds: the time the notification was shown.
  const first = { ...options, title, timestamp: 1764072000000, close: () => {} };
  await fire("notificationclick", { notification: first, action: "" });     // answer lost
  await fire("notificationclick", { notification: first, action: "" });     // fired twice
  await fire("notificationclick", { notification: first, action: "buy" });
  await fire("notificationclose", { notification: first });
  // A later notification with the same tag is another notification: counted again.
  const second = { ...first, timestamp: 1764075600000 };
  await fire("notificationclick", { notification: second, action: "" });
  process.stdout.write(JSON.stringify(record));
})().catch((err) => { console.error(err); process.exit(1); });
"""


def configured_worker(directory: Path, url: str, token: str) -> Path:
    """The worker as a user configures it: its two constants edited, nothing else."""
    source = WORKER.read_text()
    source, urls = re.subn(
        r'const COLLECTOR_URL = ".*";', f'const COLLECTOR_URL = "{url}";', source
    )
    source, tokens = re.subn(
        r'const COLLECTOR_TOKEN = ".*";', f'const COLLECTOR_TOKEN = "{token}";', source
    )
    assert (urls, tokens) == (1, 1)
    path = directory / "service-worker.js"
    path.write_text(source)
    return path


@needs_node
def test_service_worker_reports_to_the_real_collector(tmp_path: Path) -> None:
    path = tmp_path / "w.pushdeck"
    with Workspace.open(path) as ws:
        add_app(ws, App("shop", web_origin="https://shop.example.com"))
        add_devices(ws, [{"token": ENDPOINT, "provider": "webpush"}])
        doc = {
            "name": "Spring",
            "app": "shop",
            "audience": {"all": True},
            "message": {"title": "S"},
        }
        create_campaign(ws, spec_from_dict(doc))
        send_through_fake(ws, "Spring")  # events are checked against the send journal
        token = collector_token(ws)
    collector = Collector(path, port=0).start()  # reads the workspace's token itself
    try:
        worker = configured_worker(tmp_path, collector.url, token)
        harness = tmp_path / "harness.js"
        harness.write_text(HARNESS)
        payload = build_webpush(sale(**{CAMPAIGN_KEY: "Spring", VARIANT_KEY: "B"})).body
        out = subprocess.run(
            [str(NODE), str(harness), str(worker), payload.decode(), ENDPOINT, "1"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    finally:
        collector.stop()
    posted: list[dict[str, Any]] = json.loads(out.stdout)["posted"]

    for post in posted:
        assert post["url"] == collector.url
        init = post["init"]
        assert init["method"] == "POST"
        assert init["headers"]["Authorization"] == f"Bearer {token}"
        assert init["headers"]["Content-Type"] == "application/json"
        assert set(init["body"]) == EVENT_FIELDS
        assert post["status"] == 200 and post["answer"]["rejected"] == 0
    sent = [p["init"]["body"] for p in posted]
    # opened (answer lost), its retry, opened fired twice, action, dismissed, a 2nd opened
    assert [(b["kind"], b["action_id"]) for b in sent] == [
        ("opened", ""),
        ("opened", ""),
        ("opened", ""),
        ("action", "buy"),
        ("dismissed", ""),
        ("opened", ""),
    ]
    assert sent[1] == sent[0]  # the retry: byte for byte the same event
    assert sent[2]["event_id"] == sent[0]["event_id"]  # the same click, reported again
    assert [p["answer"]["duplicates"] for p in posted] == [0, 1, 1, 0, 0, 0]
    assert len({b["event_id"] for b in sent}) == 4

    with Workspace.open(path, create=False) as ws:
        rows = ws.query(
            "SELECT e.event_id, e.kind, e.action_id, e.variant, c.name, d.token FROM events e"
            " JOIN campaigns c ON c.id = e.campaign_id JOIN devices d ON d.id = e.device_id"
            " ORDER BY e.id"
        )
    assert [tuple(r) for r in rows] == [
        (sent[0]["event_id"], "opened", "", "B", "Spring", ENDPOINT),
        (sent[3]["event_id"], "action", "buy", "B", "Spring", ENDPOINT),
        (sent[4]["event_id"], "dismissed", "", "B", "Spring", ENDPOINT),
        (sent[5]["event_id"], "opened", "", "B", "Spring", ENDPOINT),
    ]
