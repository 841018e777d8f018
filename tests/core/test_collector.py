"""The local collector: token, single and batched events, reasons for bad ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.model import App
from pushdeck.core.engagement.collector import Collector, collector_token
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from tests.core.campaign_helpers import add_devices, send_through_fake


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[tuple[Collector, Path]]:
    path = tmp_path / "w.pushdeck"
    with Workspace.open(path) as ws:
        add_app(ws, App("shop"))
        add_devices(ws, [{"token": "t1"}, {"token": "t2"}])
        doc = {"name": "C1", "app": "shop", "audience": {"all": True}, "message": {"title": "x"}}
        create_campaign(ws, spec_from_dict(doc))
        send_through_fake(ws, "C1")  # events are checked against the send journal
        token = collector_token(ws)
    server = Collector(path, port=0, token=token).start()
    yield server, path
    server.stop()


def event(i: int, **extra: object) -> dict[str, object]:
    return {
        "event_id": f"e{i}",
        "kind": "opened",
        "campaign": "C1",
        "device": "t1",
        "at": "2026-05-01T09:00:00Z",
        **extra,
    }


def post(server: Collector, body: object, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token if token is not None else server.token}"}
    return httpx.post(server.url, json=body, headers=headers, timeout=5)


def test_token_is_required(collector: tuple[Collector, Path]) -> None:
    server, _ = collector
    assert post(server, event(1), token="wrong").status_code == 401
    assert httpx.post(server.url, json=event(1), timeout=5).status_code == 401
    assert httpx.get(server.url.replace("/events", "/health"), timeout=5).json() == {"ok": True}


def test_single_and_batched_events_are_recorded_once(collector: tuple[Collector, Path]) -> None:
    server, path = collector
    first = post(server, event(1))
    assert first.status_code == 200 and first.json()["recorded"] == 1
    batch = post(server, {"events": [event(1), event(2), event(3, device="t2")]})
    assert batch.json()["recorded"] == 2 and batch.json()["duplicates"] == 1
    with Workspace.open(path) as ws:
        assert ws.scalar("SELECT count(*) FROM events") == 3


def test_bad_events_are_rejected_with_reasons(collector: tuple[Collector, Path]) -> None:
    server, _ = collector
    answer = post(server, [event(1), event(2, kind="clicked"), event(3, device="nope")])
    body = answer.json()
    assert answer.status_code == 200 and body["recorded"] == 1 and body["rejected"] == 2
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(1, "kind"), (2, "device")]
    all_bad = post(server, [event(4, at="yesterday")])
    assert all_bad.status_code == 400 and all_bad.json()["errors"][0]["field"] == "at"
    not_json = httpx.post(
        server.url, content=b"{oops", headers={"Authorization": f"Bearer {server.token}"}
    )
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]


def test_token_is_stable_per_workspace_and_rotates(ws: Workspace) -> None:
    token = collector_token(ws)
    assert collector_token(ws) == token
    assert collector_token(ws, rotate=True) != token
