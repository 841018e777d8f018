"""The shipped example service worker, run under Node with a stubbed worker scope."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pushdeck.core.model import Action, Message
from pushdeck.core.payloads import build_webpush

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
def test_service_worker_shows_opens_and_reports() -> None:
    message = Message(
        title="Sale",
        body="50% off",
        web_icon="https://cdn.example.com/i.png",
        image_url="https://cdn.example.com/h.png",
        web_tag="sale",
        web_require_interaction=True,
        actions=(Action("buy", "Buy"),),
        url="https://shop.example.com/sale",
        data={"campaign": "spring", "variant": "B"},
    )
    payload = build_webpush(message).body.decode()
    harness = ROOT / "tests" / "core" / "js" / "sw_harness.js"
    worker = ROOT / "resources" / "service-worker.js"
    out = subprocess.run(
        [str(NODE), str(harness), str(worker), payload],
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
    kinds = [(p["body"]["kind"], p["body"]["action_id"]) for p in record["posted"]]
    assert kinds == [("opened", ""), ("action", "buy"), ("dismissed", "")]
    first = record["posted"][0]["body"]
    assert (first["campaign"], first["variant"]) == ("spring", "B")
    assert first["device_token"] == "https://push.example/sub1"
