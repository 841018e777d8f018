"""Web Push as browsers and Apple's push service want it: one VAPID subject rule for
saving and checking, the Declarative Web Push form (and the example service worker
reading it), padding, and urgency."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from pushdeck.cli import main
from pushdeck.core.common.errors import CredentialError, PayloadError, ValidationError
from pushdeck.core.common.model import Action, Message, SendStatus
from pushdeck.core.credentials import forms as credential_forms
from pushdeck.core.credentials import secrets
from pushdeck.core.messages.payloads import build_webpush, lint
from pushdeck.core.providers.webpush import WebPushProvider
from pushdeck.core.providers.webpush_crypto import (
    clean_subject,
    generate_vapid_keys,
    subject_problem,
)
from pushdeck.core.store import Workspace
from tests.conftest import MemoryKeyring
from tests.core.fidelity.conftest import web_device

ROOT = Path(__file__).resolve().parents[3]
NODE = shutil.which("node")


@pytest.mark.parametrize(
    "subject",
    [
        "mailto: ops@shop.com",  # Apple: 403 BadJwtToken
        "mailto:<ops@shop.com>",
        "ops@shop.com",  # a bare address
        "mailto:ops@localhost",
        "mailto:ops@shop.localhost",
        "mailto:me@shop.example",
        "https://push.test/contact",
        "mailto:a@b.invalid",
        "http://shop.com",
        "",
    ],
)
def test_subjects_apple_refuses_are_refused(subject: str) -> None:
    assert subject_problem(subject)
    with pytest.raises(CredentialError):
        clean_subject(subject)


def test_good_subjects_are_trimmed() -> None:
    assert clean_subject("  mailto:ops@shop.com \n") == "mailto:ops@shop.com"
    assert clean_subject("https://shop.com/contact") == "https://shop.com/contact"
    assert "mailto:ops@shop.com" in subject_problem("ops@shop.com")  # says how to fix it


def test_saving_and_checking_use_the_same_rule(
    ws: Workspace,
    ws_target: Path | str,
    tmp_path: Path,
    memory_keyring: MemoryKeyring,
    capsys: pytest.CaptureFixture[str],
) -> None:
    pem = generate_vapid_keys().private_key_pem.decode()
    with pytest.raises(ValidationError) as refused:
        credential_forms.save_webpush(
            ws, "shop", private_key_pem=pem, subject="mailto:me@localhost"
        )
    assert refused.value.field == "subject" and "placeholder" in refused.value.message
    saved = credential_forms.save_webpush(
        ws, "shop", private_key_pem=pem, subject="  mailto:ops@shop.com  "
    )
    assert saved.record.facts["subject"] == "mailto:ops@shop.com"
    w = ["--workspace", str(ws_target)]
    code = main([*w, "credentials", "set-webpush", "shop", "--generate",
                 "--subject", "mailto:ops@shop.test"])  # fmt: skip
    assert code != 0 and "placeholder" in capsys.readouterr().err
    assert secrets.load_credential(ws, "shop", saved.record.provider).subject == (  # type: ignore[union-attr]
        "mailto:ops@shop.com"
    )


async def test_a_stored_placeholder_subject_fails_the_check_like_apple(  # type: ignore[no-untyped-def]
    webpush, push_service
) -> None:
    # A credential saved by an older Pushdeck, before the rule: check() and the push
    # service say the same thing.
    old = WebPushProvider(replace(webpush.credential, subject="mailto:ops@localhost"))
    try:
        check = await old.check()
        assert not check.ok and "placeholder" in check.details
        result = await old.send(Message(title="x"), web_device(push_service.subscribe()))
        assert result.status is SendStatus.AUTH_FAILURE and result.reason == "BadJwtToken"
    finally:
        await old.aclose()


SALE = Message(
    title="Spring sale",
    body="20% off",
    url="https://shop.com/sale",
    badge=3,
    mutable_content=True,
    web_icon="https://shop.com/icon.png",
    actions=(Action("buy", "Buy", url="https://shop.com/cart"), Action("later", "Later")),
    data={"pushdeck_campaign": "spring"},
    web_declarative=True,
)


def test_declarative_form() -> None:
    assert build_webpush(SALE).notification == {
        "web_push": 8030,
        "notification": {
            "title": "Spring sale", "navigate": "https://shop.com/sale", "body": "20% off",
            "icon": "https://shop.com/icon.png",
            "actions": [
                {"action": "buy", "title": "Buy", "navigate": "https://shop.com/cart"},
                {"action": "later", "title": "Later", "navigate": "https://shop.com/sale"},
            ],
            "data": {"pushdeck_campaign": "spring", "url": "https://shop.com/sale"},
        },
        "app_badge": 3,
        "mutable": True,
    }  # fmt: skip
    with pytest.raises(PayloadError, match=r"\(field: url\)"):
        build_webpush(replace(SALE, url="myapp://sale"))
    assert "declarative-needs-url" in {w.code for w in lint(replace(SALE, url=""))}


async def test_push_service_receives_the_declarative_json(webpush, push_service) -> None:  # type: ignore[no-untyped-def]
    assert (await webpush.send(SALE, web_device(push_service.subscribe()))).accepted
    (received,) = push_service.received
    assert json.loads(received.plaintext)["web_push"] == 8030


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
def test_example_service_worker_understands_the_declarative_form() -> None:
    payload = build_webpush(SALE).body.decode()
    out = subprocess.run(
        [str(NODE), str(ROOT / "tests/core/js/sw_harness.js"),
         str(ROOT / "src/pushdeck/resources/service-worker.js"), payload],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    record = json.loads(out.stdout)
    (shown,) = record["shown"]
    assert shown["title"] == "Spring sale" and shown["options"]["body"] == "20% off"
    assert shown["options"]["actions"] == [
        {"action": "buy", "title": "Buy"},
        {"action": "later", "title": "Later"},
    ]
    # A click on the body opens navigate; the "buy" button its own page.
    assert record["opened"] == ["https://shop.com/sale", "https://shop.com/cart"]
    assert record["posted"][0]["body"]["campaign"] == "spring"


async def test_padding_hides_the_length(webpush, push_service) -> None:  # type: ignore[no-untyped-def]
    device = web_device(push_service.subscribe())
    short = Message(title="Hi", web_padding=True)
    long = Message(title="Hello", body="x" * 900, web_padding=True)
    for message in (short, long, replace(short, web_padding=False)):
        assert (await webpush.send(message, device)).accepted
    sizes = [len(r.body) for r in push_service.server.requests]
    assert sizes[0] == sizes[1] == 4096 and sizes[2] < 200
    # The independent http_ece decryption strips the padding: the JSON arrives intact.
    plaintexts = [json.loads(r.plaintext) for r in push_service.received]
    assert plaintexts[0]["title"] == "Hi" and plaintexts[1]["body"] == "x" * 900
