"""Push types read from the whole aps of a native payload, the --push-type override, and
the widgets / controls reload types."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from pushdeck.cli import main
from pushdeck.core.common.errors import PayloadError
from pushdeck.core.common.model import Message, PushType
from pushdeck.core.messages.payloads.apns import build_apns, native_apns_request, push_type_from_aps
from pushdeck.core.messages.payloads.fcm import type_native_apns_block
from tests.conftest import MemoryKeyring
from tests.core.fidelity.conftest import APNS_TOKEN, TOPIC
from tests.fakes import tls
from tests.fakes.apns_server import FakeApns

LIVE = {"event": "update", "timestamp": 1, "content-state": {"score": "2-1"}}


@pytest.mark.parametrize(
    ("aps", "expected"),
    [
        ({"alert": {"title": "Hi"}}, PushType.ALERT),
        ({"badge": 3}, PushType.ALERT),  # badge-only: a valid alert push
        ({"sound": "chime.caf"}, PushType.ALERT),  # sound-only too
        ({"content-available": 1}, PushType.BACKGROUND),
        ({"content-available": 1, "badge": 0}, PushType.ALERT),
        ({**LIVE, "alert": {"title": "Goal!"}}, PushType.LIVEACTIVITY),
        ({"event": "end", "timestamp": 1}, PushType.LIVEACTIVITY),
        ({"content-changed": True}, PushType.WIDGETS),
    ],
)
def test_push_type_is_read_from_the_whole_aps(aps: dict[str, Any], expected: PushType) -> None:
    assert push_type_from_aps(aps) is expected


def test_an_aps_that_says_nothing_asks_for_push_type() -> None:
    with pytest.raises(PayloadError, match="--push-type"):
        push_type_from_aps({"category": "X"})


@pytest.mark.parametrize(
    ("payload", "push_type", "topic", "priority"),
    [
        ({"aps": {"badge": 5}}, PushType.ALERT, TOPIC, "10"),
        ({"aps": {"sound": "default"}, "x": 1}, PushType.ALERT, TOPIC, "10"),
        ({"aps": {"content-available": 1}}, PushType.BACKGROUND, TOPIC, "5"),
        ({"aps": LIVE}, PushType.LIVEACTIVITY, TOPIC + ".push-type.liveactivity", "10"),
    ],
)
def test_native_payload_gets_the_topic_and_priority_of_its_type(
    payload: dict[str, Any], push_type: PushType, topic: str, priority: str
) -> None:
    request = native_apns_request(payload, topic=TOPIC)
    assert request.push_type is push_type
    assert request.headers["apns-push-type"] == push_type.value
    assert request.headers["apns-topic"] == topic
    assert request.headers["apns-priority"] == priority
    assert json.loads(request.body) == payload


def test_push_type_override_names_what_the_payload_cannot() -> None:
    big = {"aps": {}, "call": "x" * 4500}  # VoIP may use 5120 bytes
    request = native_apns_request(big, topic=TOPIC, push_type=PushType.VOIP)
    assert request.headers["apns-topic"] == TOPIC + ".voip"
    request = native_apns_request({"aps": {"content-changed": True}}, topic=TOPIC,
                                  push_type=PushType.CONTROLS)  # fmt: skip
    assert request.headers["apns-topic"] == TOPIC + ".push-type.controls"


@pytest.mark.parametrize(
    ("push_type", "suffix"),
    [(PushType.WIDGETS, ".push-type.widgets"), (PushType.CONTROLS, ".push-type.controls")],
)
def test_reload_types_carry_content_changed_and_nothing_visible(
    push_type: PushType, suffix: str
) -> None:
    request = build_apns(Message(push_type=push_type), topic=TOPIC)
    assert request.payload == {"aps": {"content-changed": True}}
    assert request.headers["apns-topic"] == TOPIC + suffix
    with pytest.raises(PayloadError, match="only reloads"):
        build_apns(Message(title="x", push_type=push_type), topic=TOPIC)


def test_native_fcm_apns_block_is_typed_from_its_aps() -> None:
    message: dict[str, Any] = {"token": "t", "apns": {"payload": {"aps": LIVE}}}
    type_native_apns_block(message, None)
    assert message["apns"]["headers"]["apns-push-type"] == "liveactivity"
    named: dict[str, Any] = {"apns": {"headers": {"apns-push-type": "alert"},
                                      "payload": {"aps": {"badge": 1}}}}  # fmt: skip
    type_native_apns_block(named, PushType.BACKGROUND)
    assert named["apns"]["headers"]["apns-push-type"] == "alert"  # the file's own word wins


@pytest.fixture
def apns_in_thread(tmp_path: Path) -> Any:
    from tests.core import credential_files

    pki = tls.make_pki(tmp_path / "pki")
    p8 = tmp_path / "AuthKey.p8"
    credential_files.p8_key(p8)
    key: Any = serialization.load_pem_private_key(p8.read_bytes(), password=None)
    fake = FakeApns(
        pki, topic=TOPIC, team_id="TEAM123456", key_id="KEY1234567", public_key=key.public_key()
    )
    with fake.server.running_in_thread():
        yield fake, pki, p8


def test_cli_sends_native_payloads_with_the_type_they_call_for(
    apns_in_thread: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    memory_keyring: MemoryKeyring,
) -> None:
    fake, pki, p8 = apns_in_thread
    w = ["--workspace", str(tmp_path / "w.pushdeck")]
    assert main([*w, "apps", "add", "shop", "--topic", TOPIC]) == 0
    assert main([*w, "credentials", "set-apns", "shop", "--key-file", str(p8),
                 "--key-id", "KEY1234567", "--team-id", "TEAM123456",
                 "--endpoint", fake.url, "--ca-file", str(pki.ca_file)]) == 0  # fmt: skip
    live_token = "c3" * 32  # a Live Activity's own push token
    fake.live_activity_tokens.add(live_token)
    sent = []
    for name, token, payload, extra in [
        ("badge", APNS_TOKEN, {"aps": {"badge": 7}}, []),
        ("live", live_token, {"aps": LIVE}, []),
        ("widget", APNS_TOKEN, {"aps": {"content-changed": True}}, ["--push-type", "controls"]),
    ]:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(payload))
        capsys.readouterr()
        code = main([*w, "push", "shop", "--token", token, "--payload", str(path),
                     "--json", *extra])  # fmt: skip
        out = json.loads(capsys.readouterr().out)
        assert code == 0 and out["status"] == "accepted", out
        sent.append(payload)
    assert fake.payloads == sent  # byte for byte what the files said
    topics = [r.headers["apns-topic"] for r in fake.server.requests]
    assert topics == [TOPIC, TOPIC + ".push-type.liveactivity", TOPIC + ".push-type.controls"]
