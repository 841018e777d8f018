"""Live Activities: the payload of a start, update and end, token kinds through import,
segments and the journal, and campaigns that send each token kind only what it takes —
checked end to end against the fake APNs and FCM, which refuse what Apple refuses."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pushdeck.core.campaigns.dispatch import DispatchOptions, send_campaign_async
from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.errors import PayloadError
from pushdeck.core.common.model import (
    Device,
    LiveActivityEvent,
    Message,
    Platform,
    ProviderKind,
    PushType,
    TokenKind,
)
from pushdeck.core.devices.importer import import_devices
from pushdeck.core.messages.json_form import message_from_dict, message_to_dict
from pushdeck.core.messages.payloads import (
    accepted_token_kinds,
    build_apns,
    build_fcm,
    preview_payloads,
)
from pushdeck.core.store import Workspace
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.journal import journal_rows
from pushdeck.core.store.segments import count_rule
from tests.core.fidelity.conftest import FCM_TOKEN, TOPIC

NOW = 1_760_000_000.0
UPDATE = Message(
    live_activity_event=LiveActivityEvent.UPDATE,
    content_state={"score": "2-1", "minute": 67},
    stale_date=1_760_000_600,
    relevance_score=75.0,  # any number for Live Activities
    title="Goal!",
    body="2-1 in the 67th minute",
    sound="goal.caf",
)
START = Message(
    live_activity_event=LiveActivityEvent.START,
    content_state={"score": "0-0"},
    activity_attributes_type="MatchAttributes",
    activity_attributes={"home": "Porto", "away": "Benfica"},
)
END = Message(
    live_activity_event=LiveActivityEvent.END,
    content_state={"score": "2-1"},
    dismissal_date=1_760_003_600,
)
FAST = DispatchOptions(backoff_base=0.001, backoff_cap=0.01, flush_interval=0.01)


def test_update_payload_and_headers() -> None:
    request = build_apns(UPDATE, topic=TOPIC, now=NOW)
    assert request.payload == {
        "aps": {
            "timestamp": 1_760_000_000, "event": "update",
            "content-state": {"score": "2-1", "minute": 67}, "stale-date": 1_760_000_600,
            "relevance-score": 75.0,
            "alert": {"title": "Goal!", "body": "2-1 in the 67th minute", "sound": "goal.caf"},
        }
    }  # fmt: skip
    assert request.headers["apns-push-type"] == "liveactivity"
    assert request.headers["apns-topic"] == TOPIC + ".push-type.liveactivity"
    assert request.headers["apns-priority"] == "10"


def test_start_carries_attributes_and_end_a_dismissal_date() -> None:
    aps = build_apns(START, topic=TOPIC, now=NOW).payload["aps"]
    assert aps["attributes-type"] == "MatchAttributes"
    assert aps["attributes"] == {"home": "Porto", "away": "Benfica"}
    assert "alert" not in aps  # the alert is optional
    end = build_apns(END, topic=TOPIC, now=NOW).payload["aps"]
    assert end["event"] == "end" and end["dismissal-date"] == 1_760_003_600


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (replace(START, activity_attributes_type=""), "activity_attributes_type"),
        (replace(UPDATE, content_state={}), "content_state"),
        (replace(UPDATE, dismissal_date=1_760_003_600), "dismissal_date"),
        (replace(UPDATE, stale_date=1_760_000_600_000), "stale_date"),  # milliseconds
        (replace(UPDATE, activity_attributes={"x": 1}), "activity_attributes"),
        (replace(UPDATE, push_type=PushType.ALERT), "push_type"),
        (Message(push_type=PushType.LIVEACTIVITY, body="x"), "live_activity_event"),
    ],
)
def test_impossible_live_activities_name_the_field(message: Message, field: str) -> None:
    with pytest.raises(PayloadError, match=rf"\(field: {field}\)"):
        build_apns(message, topic=TOPIC, now=NOW)


def test_each_token_kind_takes_only_its_messages() -> None:
    assert accepted_token_kinds(Message(title="x")) == {TokenKind.DEVICE}
    assert accepted_token_kinds(UPDATE) == accepted_token_kinds(END) == {TokenKind.LIVEACTIVITY}
    assert accepted_token_kinds(START) == {TokenKind.PUSHTOSTART}


def test_through_fcm_the_live_activity_token_rides_in_the_apns_block() -> None:
    la_token = "d4" * 32
    fcm = build_fcm(UPDATE, FCM_TOKEN, live_activity_token=la_token).payload["message"]
    assert fcm["token"] == FCM_TOKEN and fcm["apns"]["live_activity_token"] == la_token
    assert fcm["apns"]["headers"]["apns-push-type"] == "liveactivity"
    assert fcm["apns"]["payload"]["aps"]["content-state"] == {"score": "2-1", "minute": 67}
    assert fcm["apns"]["payload"]["aps"]["alert"]["title"] == "Goal!"
    assert not {"notification", "android", "webpush"} & set(fcm)  # iOS only
    with pytest.raises(PayloadError, match="live_activity_token"):
        build_fcm(UPDATE, FCM_TOKEN)
    with pytest.raises(PayloadError, match="live_activity_token"):
        build_fcm(Message(title="x"), FCM_TOKEN, live_activity_token=la_token)


def test_previews_and_the_campaign_file_know_live_activities() -> None:
    previews = preview_payloads(UPDATE)
    assert previews["ios"].ok and '"content-state"' in previews["ios"].text
    assert "only on iOS" in previews["android"].error and "only on iOS" in previews["web"].error
    assert message_from_dict(message_to_dict(START)) == START
    doc = message_to_dict(UPDATE)
    assert doc["live_activity_event"] == "update" and doc["content_state"]["minute"] == 67


def _import(ws: Workspace, tmp_path: Path, text: str) -> Any:
    path = tmp_path / "devices.csv"
    path.write_text(text, encoding="utf-8")
    return import_devices(ws, path, "shop")


DEVICE_TOKENS = ["a1" * 32, "a2" * 32]
LIVE_TOKENS = ["b1" * 32, "b2" * 32]
START_TOKEN = "c1" * 32


def _audience(ws: Workspace, tmp_path: Path) -> None:
    rows = [f"{t},ios,device" for t in DEVICE_TOKENS]
    rows += [f"{t},ios,liveactivity" for t in LIVE_TOKENS] + [f"{START_TOKEN},ios,pushtostart"]
    report = _import(ws, tmp_path, "token,platform,token_kind\n" + "\n".join(rows) + "\n")
    assert report.rejected_count == 0 and report.inserted == 5


def test_import_segments_and_export_know_the_kind(ws: Workspace, tmp_path: Path) -> None:
    report = _import(
        ws, tmp_path,
        "token,platform,provider,token_kind,attr.fcm_token\n"
        f"{'B1' * 32},ios,apns,Live-Activity,\n"
        f"{'c1' * 32},ios,fcm,push_to_start,{FCM_TOKEN}\n"
        f"{'a1' * 32},ios,apns,,\n"
        f"{'e1' * 32},android,fcm,liveactivity,\n"
        f"{'e2' * 32},ios,apns,widget,\n",
    )  # fmt: skip
    assert report.inserted == 3 and report.rejected_count == 2
    assert {r.field for r in report.rejected} == {"token_kind"}
    live = device_store.find_device(ws, "shop", "b1" * 32)  # hex normalised
    assert live is not None and live.token_kind is TokenKind.LIVEACTIVITY
    through_fcm = device_store.find_device(ws, "shop", "c1" * 32)
    assert through_fcm is not None and through_fcm.token_kind is TokenKind.PUSHTOSTART
    assert through_fcm.attributes["fcm_token"] == FCM_TOKEN
    rule = {"field": "token_kind", "op": "=", "value": "liveactivity"}
    assert count_rule(ws, rule, "shop") == 1
    assert count_rule(ws, {"field": "token_kind", "op": "!=", "value": "device"}, "shop") == 2


async def test_campaigns_send_each_kind_only_what_it_takes(  # type: ignore[no-untyped-def]
    ws: Workspace, tmp_path: Path, apns, fake_apns
) -> None:
    _audience(ws, tmp_path)
    fake_apns.live_activity_tokens.update([*LIVE_TOKENS, START_TOKEN])
    providers = {ProviderKind.APNS: apns}
    specs = [
        ("goal", message_to_dict(UPDATE)),
        ("kickoff", message_to_dict(START)),
        ("news", {"title": "Match report", "body": "Read it"}),
    ]
    for name, message in specs:
        doc = {"name": name, "app": "shop", "audience": {"all": True}, "message": message}
        create_campaign(ws, spec_from_dict(doc))
        summary = await send_campaign_async(ws, name, providers=providers, options=FAST)
        assert summary.status == "sent", summary
    # The fake refuses a kind that does not take the push type (DeviceTokenNotForTopic):
    # every send was accepted, so none went to the wrong kind.
    assert fake_apns.rejections == {}
    sent = [(r.path.removeprefix("/3/device/"), r.headers["apns-push-type"])
            for r in fake_apns.server.requests]  # fmt: skip
    assert sorted(sent) == sorted(
        [(t, "liveactivity") for t in [*LIVE_TOKENS, START_TOKEN]]
        + [(t, "alert") for t in DEVICE_TOKENS]
    )
    for campaign_id, accepted_kind in ((1, "liveactivity"), (2, "pushtostart"), (3, "device")):
        rows = journal_rows(ws, campaign_id)
        assert len(rows) == 5  # every device is targeted and accounted for
        for row in rows:
            if row["token_kind"] == accepted_kind:
                assert row["state"] == "accepted"
            else:
                assert (row["state"], row["reason"]) == ("excluded", "token_kind")


async def test_a_live_activity_through_fcm_reaches_the_fake(fcm, fake_fcm) -> None:  # type: ignore[no-untyped-def]
    la_token = "d4" * 32
    kind = TokenKind.LIVEACTIVITY
    device = Device(
        "shop", Platform.IOS, ProviderKind.FCM, la_token, token_kind=kind,
        attributes={"fcm_token": FCM_TOKEN},
    )  # fmt: skip
    result = await fcm.send(UPDATE, device)
    assert result.accepted, result
    ((token, message),) = fake_fcm.delivered
    assert token == FCM_TOKEN and message["apns"]["live_activity_token"] == la_token
    missing = await fcm.send(UPDATE, replace(device, attributes={}))
    assert not missing.accepted and "attr.fcm_token" in missing.explanation
    assert json.dumps(message["apns"]["payload"]).count("content-state") == 1
