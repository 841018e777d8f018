"""Frequency caps: every campaign's accepted sends to a device, from the journal, counted
when a campaign sends; devices at the cap are excluded with the reason, test devices
never are. The earlier sends come from another process (the CLI) where it matters."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pushdeck.core.campaigns.dispatch import DispatchOptions, send_campaign
from pushdeck.core.campaigns.hygiene import update_app_rules
from pushdeck.core.campaigns.hygiene_rules import parse_cap_option
from pushdeck.core.campaigns.library import create_campaign, get_campaign
from pushdeck.core.campaigns.review import review_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.model import App, ProviderKind, SendStatus
from pushdeck.core.credentials.secrets import store_credential
from pushdeck.core.reports.analytics import campaign_report
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from pushdeck.core.store.journal import journal_rows
from tests.core.campaign_helpers import FakeProvider, add_devices, record_credentials, result

CAP = "frequency cap (2 in 24 h)"


SANDBOX = {"behaviour": {"latency_ms": 0, "failure_rate": 0, "dead_rate": 0}}


def campaign(name: str, audience: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": name, "app": "shop", "audience": audience, "message": {"title": name},
            **fields}  # fmt: skip


def states(ws: Workspace, name: str) -> dict[str, tuple[str, str]]:
    """token -> (journal state, reason)."""
    tokens = dict(ws.query("SELECT id, token FROM devices"))
    return {
        tokens[r["device_id"]]: (r["state"], r["reason"])
        for r in journal_rows(ws, get_campaign(ws, name).id)
    }


def cli(path: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "pushdeck", "--workspace", str(path), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_cap_excludes_exactly_the_devices_over_it(tmp_path: Path) -> None:
    path = tmp_path / "w.pushdeck"
    with Workspace.open(path) as ws:
        add_app(ws, App("shop"))
        sandbox = {"provider": "sandbox", "platform": "ios"}
        add_devices(ws, [{"token": t, **sandbox} for t in "abcd"]
                    + [{"token": "t", "test": True, **sandbox},
                       {"token": "e", "opt_in": "denied", **sandbox}])  # fmt: skip
        store_credential(ws, "shop", ProviderKind.SANDBOX, "sandbox", None, SANDBOX)
    # Another process sends two campaigns: a, b and the test device t twice, c once.
    for doc in (
        campaign("First", {"tokens": ["a", "b", "c", "t"]}),
        campaign("Second", {"tokens": ["a", "b", "t"]}),
    ):
        file = tmp_path / f"{doc['name']}.json"
        file.write_text(json.dumps(doc))
        cli(path, "campaigns", "create", "--file", str(file))
        assert json.loads(cli(path, "campaigns", "send", doc["name"], "--json"))["status"] == "sent"

    with Workspace.open(path) as ws:
        doc = campaign("Capped", {"all": True}, frequency_cap={"max": 2, "within": "24h"})
        create_campaign(ws, spec_from_dict(doc))
        review = review_campaign(ws, "Capped")
        assert (CAP, 2) in review.excluded
        assert review.targeted == 6 and review.eligible == 3  # c, d and the test device
        assert any("at most 2 in 24 h" in line for line in review.rules)
        fake = FakeProvider(provider_kind=ProviderKind.SANDBOX)
        send_campaign(ws, "Capped", providers={ProviderKind.SANDBOX: fake})
        final = states(ws, "Capped")
        assert {t: final[t] for t in "abe"} == {
            "a": ("excluded", CAP), "b": ("excluded", CAP), "e": ("excluded", "opted_out"),
        }  # fmt: skip
        sent = {t for t, (state, _) in final.items() if state == "accepted"}
        assert sent == {"c", "d", "t"}  # exactly the devices under the cap, and t
        assert get_campaign(ws, "Capped").status.value == "sent"
        report = campaign_report(ws, "Capped")
        assert report["excluded_by_reason"][CAP] == 2
        assert report["overall"]["accepted"] == 3


def test_the_window_rejected_sends_the_app_default_and_opting_out(ws: Workspace) -> None:
    add_devices(ws, [{"token": t} for t in "abc"])
    record_credentials(ws)
    fake = FakeProvider(script={"c": [result(SendStatus.REJECTED, http_status=400,
                                             reason="BadDeviceToken")]})  # fmt: skip
    providers = {ProviderKind.APNS: fake}
    for name in ("One", "Two"):
        create_campaign(ws, spec_from_dict(campaign(name, {"all": True})))
        send_campaign(ws, name, providers=providers)
    fake.script.clear()
    # a and b: two accepted sends; c: two refused ones, which do not count.
    update_app_rules(ws, "shop", frequency_cap=parse_cap_option("2/24h"))
    create_campaign(ws, spec_from_dict(campaign("Default", {"all": True})))
    assert ("frequency cap (2 in 24 h)", 2) in review_campaign(ws, "Default").excluded
    send_campaign(ws, "Default", providers=providers)
    assert {t: s for t, (s, _) in states(ws, "Default").items()} == {
        "a": "excluded", "b": "excluded", "c": "accepted",
    }  # fmt: skip
    # A transactional message opts out of the app's cap: a 3, b 3, c 2 sends.
    create_campaign(ws, spec_from_dict(campaign("Receipt", {"all": True}, frequency_cap="none")))
    send_campaign(ws, "Receipt", providers=providers)
    assert {s for s, _ in states(ws, "Receipt").values()} == {"accepted"}
    # 25 hours later none of those sends is within 24 h: a 4, b 4, c 3.
    later = datetime.now(UTC) + timedelta(hours=25)
    create_campaign(ws, spec_from_dict(campaign("Tomorrow", {"all": True})))
    send_campaign(ws, "Tomorrow", providers=providers,
                  options=DispatchOptions(clock=lambda: later))  # fmt: skip
    assert {s for s, _ in states(ws, "Tomorrow").values()} == {"accepted"}
    # 23 hours later all of them still are: a campaign's own cap of 4 a day stops a and b.
    sooner = datetime.now(UTC) + timedelta(hours=23)
    doc = campaign("Sooner", {"all": True}, frequency_cap={"max": 4, "within": "1d"})
    create_campaign(ws, spec_from_dict(doc))
    send_campaign(ws, "Sooner", providers=providers, options=DispatchOptions(clock=lambda: sooner))
    assert states(ws, "Sooner") == {
        "a": ("excluded", "frequency cap (4 in 1 d)"),
        "b": ("excluded", "frequency cap (4 in 1 d)"),
        "c": ("accepted", ""),
    }
