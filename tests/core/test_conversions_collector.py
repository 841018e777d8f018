"""Conversions from outside: posted to the real collector over HTTP, and reported by the
shipped service worker (under Node) when a page tells it about a purchase."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from pushdeck.core.campaigns.dispatch import send_campaign
from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.model import CAMPAIGN_KEY, App, ProviderKind
from pushdeck.core.engagement.collector import Collector, collector_token
from pushdeck.core.messages.payloads import build_webpush
from pushdeck.core.reports.dashboard import dashboard_data
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from tests.core.campaign_helpers import FakeProvider, add_devices
from tests.core.test_service_worker import ENDPOINT, NODE, configured_worker, needs_node, sale


def sent_campaign(path: Path, tokens: list[dict[str, Any]]) -> str:
    """A workspace whose campaign 'Spring' was sent to ``tokens``; the collector token."""
    with Workspace.open(path) as ws:
        add_app(ws, App("shop", web_origin="https://shop.example.com"))
        add_devices(ws, tokens)
        doc = {"name": "Spring", "app": "shop", "audience": {"all": True},
               "message": {"title": "S"}}  # fmt: skip
        create_campaign(ws, spec_from_dict(doc))
        fake = FakeProvider(provider_kind=ProviderKind.WEBPUSH)
        send_campaign(ws, "Spring", providers={ProviderKind.WEBPUSH: fake,
                                               ProviderKind.APNS: FakeProvider()})  # fmt: skip
        return collector_token(ws)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[tuple[Collector, Path]]:
    path = tmp_path / "w.pushdeck"
    token = sent_campaign(path, [{"token": t} for t in ("t1", "t2", "t3")])
    server = Collector(path, port=0, token=token).start()
    yield server, path
    server.stop()


# Times after the real send (the collector refuses times more than 10 minutes ahead).
OPEN = f"{datetime.now(UTC) + timedelta(minutes=1):%Y-%m-%dT%H:%M:%SZ}"
LATER = f"{datetime.now(UTC) + timedelta(minutes=5):%Y-%m-%dT%H:%M:%SZ}"


def post(server: Collector, body: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.token}"}
    return httpx.post(server.url, json=body, headers=headers, timeout=10)


def test_conversions_over_http(collector: tuple[Collector, Path]) -> None:
    server, path = collector
    answer = post(server, {"events": [
        {"event_id": "o1", "kind": "opened", "campaign": "Spring", "device": "t1",
         "at": OPEN},
        {"event_id": "c1", "kind": "converted", "device": "t1", "at": LATER,
         "conversion": "purchase", "value": 49.9, "currency": "EUR"},
        {"event_id": "c2", "kind": "Converted", "device": "t2", "at": LATER,
         "campaign": "Spring", "value": "12", "currency": "usd"},
        {"event_id": "c3", "kind": "converted", "device": "t3", "at": LATER,
         "value": 1, "currency": "€"},
        {"event_id": "c4", "kind": "converted", "device": "t3", "at": LATER,
         "value": {"amount": 1}, "currency": "EUR"},
    ]})  # fmt: skip
    assert answer.status_code == 200
    body = answer.json()
    assert (body["recorded"], body["rejected"]) == (3, 2)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(3, "currency"), (4, "value")]
    again = post(server, {"event_id": "c1", "kind": "converted", "device": "t1",
                          "at": LATER})  # fmt: skip
    assert again.json()["duplicates"] == 1
    bad = post(server, {"kind": "converted", "device": "t1", "at": LATER,
                        "value": 3})  # fmt: skip
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "currency"
    with Workspace.open(path, create=False) as ws:
        report = dashboard_data(ws, "Spring").conversions
    assert report is not None
    o = report.overall
    assert (o.conversions, o.direct, o.influenced) == (2, 1, 1)
    assert o.value == {"EUR": Decimal("49.9"), "USD": Decimal(12)}


# The worker in a browser-like scope posting to the real collector (Node's fetch); a page
# sends it two messages about the same order, and one that is not Pushdeck's.
HARNESS = r"""
const fs = require("fs");
const vm = require("vm");
const [swPath, payloadJson, endpoint] = process.argv.slice(2);
const record = { posted: [] };
const listeners = {};
const scope = {
  addEventListener: (type, fn) => { listeners[type] = fn; },
  registration: {
    showNotification: async (title, options) => { record.shown = { title, options }; },
    pushManager: { getSubscription: async () => ({ endpoint }) },
  },
  clients: { matchAll: async () => [], openWindow: async () => {} },
  setTimeout: (fn) => setTimeout(fn, 0),
  fetch: async (url, init) => {
    const response = await fetch(url, init);
    record.posted.push({ body: JSON.parse(init.body), status: response.status,
                         answer: await response.json() });
    return response;
  },
  console, Date, JSON, Promise, Number, String,
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
  const notification = { ...options, title, timestamp: 1764072000000, close: () => {} };
  await fire("notificationclick", { notification, action: "" });
  const order = { pushdeck: "converted", conversion: "purchase", value: 19.99,
                  currency: "eur", id: "order-1" };
  await fire("message", { data: order });
  await fire("message", { data: order });               // the page reported it twice
  await fire("message", { data: { hello: "world" } });   // not ours: ignored
  process.stdout.write(JSON.stringify(record));
})().catch((err) => { console.error(err); process.exit(1); });
"""


@needs_node
def test_the_service_worker_reports_a_conversion_to_the_collector(tmp_path: Path) -> None:
    path = tmp_path / "w.pushdeck"
    token = sent_campaign(path, [{"token": ENDPOINT, "provider": "webpush"}])
    collector = Collector(path, port=0).start()
    try:
        worker = configured_worker(tmp_path, collector.url, token)
        harness = tmp_path / "harness.js"
        harness.write_text(HARNESS)
        payload = build_webpush(sale(**{CAMPAIGN_KEY: "Spring"})).body
        out = subprocess.run(
            [str(NODE), str(harness), str(worker), payload.decode(), ENDPOINT],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
    finally:
        collector.stop()
    posted = json.loads(out.stdout)["posted"]
    kinds = [p["body"]["kind"] for p in posted]
    assert kinds == ["opened", "converted", "converted"]
    conversion = posted[1]["body"]
    assert posted[2]["body"]["event_id"] == conversion["event_id"]  # the same order
    assert posted[2]["answer"]["duplicates"] == 1
    assert conversion["device"] == ENDPOINT and conversion["currency"] == "EUR"
    assert (conversion["value"], conversion["conversion"]) == (19.99, "purchase")
    assert "campaign" not in conversion  # the page did not say: influenced by opens
    assert [p["answer"]["recorded"] for p in posted] == [1, 1, 0]
    with Workspace.open(path, create=False) as ws:
        report = dashboard_data(ws, "Spring").conversions
    assert report is not None
    o = report.overall
    assert (o.conversions, o.influenced, o.converted_opened) == (1, 1, 1)
    assert o.value == {"EUR": Decimal("19.99")}
