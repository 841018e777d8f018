"""Shared workspaces' passwords: only in the keyring, the URI kept without them."""

from __future__ import annotations

import os

import keyring
import pytest
from keyrings.alt.file import PlaintextKeyring

from pushdeck.core.common.errors import KeyringUnavailableError
from pushdeck.core.credentials import secrets
from pushdeck.core.credentials.workspace_passwords import (
    SERVICE,
    forget_password,
    keyring_reference,
    remember_password,
    stored_password,
    with_password,
    without_password,
)


@pytest.mark.parametrize(
    ("uri", "bare"),
    [
        ("postgresql://ana:s3cr%2Ft@db.example.com:5433/team", "postgresql://ana@db.example.com:5433/team"),
        ("postgres://ana:pw@/team?host=/run/pg&sslmode=require",
         "postgres://ana@/team?host=/run/pg&sslmode=require"),
        ("postgresql://db.example.com/team?password=pw&user=ana",
         "postgresql://db.example.com/team?user=ana"),
        ("postgresql://ana@db.example.com/team", "postgresql://ana@db.example.com/team"),
    ],
)  # fmt: skip
def test_the_uri_is_kept_without_any_password(uri: str, bare: str):
    assert without_password(uri) == bare
    assert "pw" not in keyring_reference(uri) and "s3cr" not in keyring_reference(uri)


def test_the_password_goes_back_into_the_uri_encoded():
    uri = with_password("postgresql://ana@db.example.com/team", "p@ss/w:rd")
    assert uri == "postgresql://ana:p%40ss%2Fw%3Ard@db.example.com/team"
    from psycopg.conninfo import conninfo_to_dict

    assert conninfo_to_dict(uri)["password"] == "p@ss/w:rd"


def test_round_trip_through_the_real_keyring():
    try:
        secrets.keyring_backend()
    except KeyringUnavailableError:
        if os.environ.get("CI"):
            raise
        pytest.skip("no Secret Service here; run through scripts/test")
    uri = "postgresql://ana:first@db.example.com/team_pw_test"
    reference = remember_password(uri, "first")
    assert reference == "postgresql://ana@db.example.com/team_pw_test"
    assert stored_password(reference) == "first"
    assert secrets.keyring_backend().get_password(SERVICE, reference) == "first"
    forget_password(reference)
    assert stored_password(reference) is None


def test_a_plain_text_keyring_is_refused_unless_chosen(monkeypatch, tmp_path):
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "plain.cfg")  # type: ignore[misc]
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    try:
        with pytest.raises(KeyringUnavailableError):
            remember_password("postgresql://ana:pw@h/db", "pw")
        assert (
            not (tmp_path / "plain.cfg").exists()
            or "pw" not in (tmp_path / "plain.cfg").read_text()
        )
        assert stored_password("postgresql://ana@h/db") is None
    finally:
        keyring.set_keyring(previous)
