"""A shared workspace's credential whose secret is not in *this* machine's keyring.

The credential row is everyone's (it is in the workspace); its secret is only in the
keyring of the machine where someone entered it. Here the row exists and the real
keyring (gnome-keyring in scripts/test's session) lacks the secret: the review still
counts and previews, but says why this machine cannot send, and a send is refused with
the same words. Runs on SQLite and on PostgreSQL (the ``ws`` fixture).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.review import review_campaign
from pushdeck.core.campaigns.spec import AudienceKind, AudienceSpec, CampaignSpec
from pushdeck.core.common.errors import CredentialError, KeyringUnavailableError
from pushdeck.core.common.model import Message, ProviderKind
from pushdeck.core.credentials import secrets
from pushdeck.core.credentials.forms import overview, save_apns_token, save_sandbox
from pushdeck.core.credentials.on_this_machine import has_secret, missing_here
from pushdeck.core.store import Workspace
from tests.core import credential_files as files
from tests.core.campaign_helpers import add_devices

EXPECTED = (
    "This machine has no APNs key for app “shop” — ask an admin to add it here "
    "(Apps & credentials → Add or replace a credential), or send from a machine that has it."
)


@pytest.fixture
def real_keyring() -> None:
    try:
        secrets.keyring_backend()
    except KeyringUnavailableError:
        if os.environ.get("CI"):
            raise
        pytest.skip("no Secret Service here; run through scripts/test")


def _apns_entered_elsewhere(ws: Workspace, tmp_path: Path) -> secrets.CredentialRecord:
    """Save an APNs key (row + secret in this keyring), then take the secret out of the
    keyring: what a teammate's machine sees after an admin added the key on theirs."""
    files.p8_key(tmp_path / "AuthKey_KEY1234567.p8")
    saved = save_apns_token(
        ws, "shop", key_file=str(tmp_path / "AuthKey_KEY1234567.p8"),
        key_id="KEY1234567", team_id="TEAM123456", environment="production",
    )  # fmt: skip
    record = saved.record
    assert has_secret(record)
    secrets.keyring_backend().delete_password(secrets.SERVICE, record.keyring_username)
    return record


def _campaign(ws: Workspace) -> None:
    add_devices(ws, [{"token": f"{i:064x}"} for i in range(1, 6)])
    add_devices(ws, [{"token": f"sbx-{i}", "provider": "sandbox", "platform": "android"}
                     for i in range(3)])  # fmt: skip
    spec = CampaignSpec("Launch", "shop", Message(title="Hi", body="New"),
                        AudienceSpec(AudienceKind.ALL))  # fmt: skip
    create_campaign(ws, spec)


def test_the_review_counts_and_previews_but_says_this_machine_cannot_send(
    ws: Workspace, tmp_path: Path, real_keyring: None
):
    record = _apns_entered_elsewhere(ws, tmp_path)
    save_sandbox(ws, "shop", failure_rate=0, open_rate=0)  # no secret: usable anywhere
    _campaign(ws)
    review = review_campaign(ws, "Launch")
    assert review.missing_here == [EXPECTED]
    assert not review.can_send_here
    # Everything else of the review still works: counts, providers, payload previews.
    assert review.eligible == 8 and review.by_platform == {"ios": 5, "android": 3}
    assert set(review.providers) == {"apns", "sandbox"}
    assert review.payloads["ios"].ok and '"title":"Hi"' in review.payloads["ios"].text.replace(
        " ", ""
    )
    with pytest.raises(CredentialError) as refused:
        secrets.load_credential(ws, "shop", ProviderKind.APNS)
    assert refused.value.message == EXPECTED
    assert [m.provider for m in missing_here(ws)] == ["apns"]
    apps, _backend, _problem = overview(ws)
    assert apps[0].missing_here == [EXPECTED]
    # An admin adds the key on this machine: the same row, and now the secret here too.
    _apns_again(ws, tmp_path)
    assert review_campaign(ws, "Launch").missing_here == []
    again = secrets.get_record(ws, "shop", ProviderKind.APNS)
    assert has_secret(again) and again.keyring_username == record.keyring_username


def _apns_again(ws: Workspace, tmp_path: Path) -> None:
    save_apns_token(
        ws, "shop", key_file=str(tmp_path / "AuthKey_KEY1234567.p8"),
        key_id="KEY1234567", team_id="TEAM123456", environment="production",
    )  # fmt: skip


def test_with_every_secret_here_nothing_is_missing(ws: Workspace, tmp_path: Path, real_keyring):
    files.p8_key(tmp_path / "AuthKey_KEY1234567.p8")
    _apns_again(ws, tmp_path)
    _campaign(ws)
    review = review_campaign(ws, "Launch")
    assert review.missing_here == [] and review.can_send_here


def test_the_cli_refuses_to_send_with_the_same_words(tmp_path: Path, real_keyring: None):
    """A real process on the same workspace file (the CLI), as a teammate would run it."""
    path = tmp_path / "team.pushdeck"
    from pushdeck.core.common.model import App
    from pushdeck.core.store.apps import add_app

    with Workspace.open(path) as ws:
        add_app(ws, App("shop", apns_topic="com.example.shop"))
        _apns_entered_elsewhere(ws, tmp_path)
        _campaign(ws)
    env = {k: v for k, v in os.environ.items() if k != "PUSHDECK_WORKSPACE"}
    done = subprocess.run(
        [sys.executable, "-m", "pushdeck", "--workspace", str(path), "campaigns", "send",
         "Launch"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "This machine has no APNs key for app “shop”" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
