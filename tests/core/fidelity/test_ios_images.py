"""Images on iOS: mutable-content and the documented key, Firebase's apns.fcm_options.image,
and the app's declared Notification Service Extension (stored, and used by lint)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushdeck.cli import main
from pushdeck.core.common.model import App, Device, Message, Platform, ProviderKind, PushType
from pushdeck.core.messages.payloads import lint, needs_service_extension
from pushdeck.core.messages.payloads.apns import IMAGE_KEY, build_apns
from pushdeck.core.messages.payloads.fcm import build_fcm
from pushdeck.core.store import Workspace, schema
from pushdeck.core.store import workspace as workspace_module
from pushdeck.core.store.apps import get_app
from tests.core.fidelity.conftest import APNS_TOKEN, FCM_TOKEN, TOPIC

IMAGE = "https://cdn.example.com/spring.jpg"
PHOTO = Message(title="New arrivals", body="Spring collection", image_url=IMAGE)


def test_image_asks_for_the_extension_and_carries_the_url() -> None:
    request = build_apns(PHOTO, topic=TOPIC)
    assert request.payload["aps"]["mutable-content"] == 1
    assert request.payload[IMAGE_KEY] == IMAGE == "https://cdn.example.com/spring.jpg"
    plain = build_apns(Message(title="x"), topic=TOPIC).payload
    assert "mutable-content" not in plain["aps"] and IMAGE_KEY not in plain


def test_background_push_never_asks_for_the_extension() -> None:
    silent = Message(content_available=True, image_url=IMAGE)
    request = build_apns(silent, topic=TOPIC)
    assert request.push_type is PushType.BACKGROUND
    assert request.payload == {"aps": {"content-available": 1}}
    assert not needs_service_extension(silent) and needs_service_extension(PHOTO)


def test_custom_data_under_the_image_key_is_sent_as_given() -> None:
    payload = build_apns(
        Message(title="x", image_url=IMAGE, data={IMAGE_KEY: "mine"}), topic=TOPIC
    ).payload
    assert payload[IMAGE_KEY] == "mine" and payload["aps"]["mutable-content"] == 1


def test_fcm_uses_firebases_image_option_and_mutable_content() -> None:
    apns = build_fcm(PHOTO, FCM_TOKEN).payload["message"]["apns"]
    assert apns["fcm_options"] == {"image": IMAGE}
    assert apns["payload"]["aps"]["mutable-content"] == 1
    assert apns["payload"][IMAGE_KEY] == IMAGE  # one extension serves both routes
    assert "fcm_options" not in build_fcm(Message(title="x"), FCM_TOKEN).payload["message"]["apns"]


def test_lint_warns_when_the_app_has_no_extension() -> None:
    without = App("shop", apns_topic="com.example.shop")
    with_nse = App("shop", apns_topic="com.example.shop", has_service_extension=True)
    web_only = App("site", web_origin="https://site.example")
    warnings = [w for w in lint(PHOTO, without) if w.code == "ios-image-no-extension"]
    assert len(warnings) == 1 and "--has-nse" in warnings[0].hint
    assert warnings[0].field == "image_url"
    for app in (with_nse, web_only, None):
        assert "ios-image-no-extension" not in {w.code for w in lint(PHOTO, app)}
    assert "ios-image-no-extension" not in {w.code for w in lint(Message(title="x"), without)}


def test_the_setting_is_stored_and_changed_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path / "w.pushdeck")
    assert main(["--workspace", path, "apps", "add", "shop", "--topic", "com.x.shop"]) == 0
    assert main(["--workspace", path, "apps", "update", "shop", "--has-nse"]) == 0
    with Workspace.open(path) as ws:  # another connection reads what the CLI wrote
        assert get_app(ws, "shop").has_service_extension is True
        assert get_app(ws, "shop").apns_topic == "com.x.shop"
    assert main(["--workspace", path, "apps", "update", "shop", "--no-has-nse"]) == 0
    capsys.readouterr()
    assert main(["--workspace", path, "apps", "list", "--json"]) == 0
    assert '"has_service_extension": false' in capsys.readouterr().out


def test_an_older_workspace_gains_the_setting_switched_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.pushdeck"
    before = schema.MIGRATIONS[:5]
    with monkeypatch.context() as patch:
        patch.setattr(workspace_module, "MIGRATIONS", before)
        patch.setattr(workspace_module, "SCHEMA_VERSION", len(before))
        with Workspace.open(path) as ws:  # a workspace as the previous release wrote it
            ws.conn.execute(
                "INSERT INTO apps (name, apns_topic, created_at) VALUES ('shop', 'com.x.shop', '')"
            )
    with Workspace.open(path) as ws:
        assert ws.scalar("PRAGMA user_version") == schema.SCHEMA_VERSION
        assert get_app(ws, "shop").has_service_extension is False


async def test_apns_receives_the_image_for_the_extension(apns, fake_apns) -> None:  # type: ignore[no-untyped-def]
    device = Device("shop", Platform.IOS, ProviderKind.APNS, APNS_TOKEN)
    result = await apns.send(PHOTO, device)
    assert result.accepted, result
    (payload,) = fake_apns.payloads
    assert payload["aps"]["mutable-content"] == 1 and payload[IMAGE_KEY] == IMAGE


async def test_fcm_accepts_the_image_option(fcm, fake_fcm) -> None:  # type: ignore[no-untyped-def]
    device = Device("shop", Platform.IOS, ProviderKind.FCM, FCM_TOKEN)
    result = await fcm.send(PHOTO, device)
    assert result.accepted, result
    ((_, message),) = fake_fcm.delivered
    assert message["apns"]["fcm_options"] == {"image": IMAGE}
