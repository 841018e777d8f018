"""The workspace location rule (core/common/workspace_location.py): which values are files, which
are PostgreSQL, which are refused, and that a password never reaches a message."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushdeck.core.common.errors import ConfigError
from pushdeck.core.common.workspace_location import (
    PostgresLocation,
    SharedWorkspaceUnavailableError,
    SqliteLocation,
    WorkspaceLocationError,
    local_workspace_path,
    parse_workspace_location,
    redact,
    resolve_workspace_location,
)


@pytest.mark.parametrize(
    "value",
    [
        "team.pushdeck",
        "/srv/pushdeck/team.pushdeck",
        "./host=db.pushdeck",  # a file really named like a libpq keyword string
        "a=b.pushdeck",  # "=" alone does not make a connection string
        "C://Users/me/w.pushdeck",  # a one-letter "scheme" is a Windows drive
        "C:\\Users\\me\\w.pushdeck",
        "notes:2024.pushdeck",
        "postgresql.pushdeck",
    ],
)
def test_a_path_is_a_sqlite_workspace(value: str) -> None:
    assert parse_workspace_location(value) == SqliteLocation(Path(value))


def test_a_path_expands_the_home_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse_workspace_location("~/w.pushdeck") == SqliteLocation(tmp_path / "w.pushdeck")


@pytest.mark.parametrize(
    ("value", "uri"),
    [
        ("postgresql://u:pw@db:5432/team", "postgresql://u:pw@db:5432/team"),
        ("postgres://db/team", "postgres://db/team"),
        ("POSTGRESQL://db/team?sslmode=require", "postgresql://db/team?sslmode=require"),
        (
            "postgresql:///team?host=/var/run/postgresql",
            "postgresql:///team?host=/var/run/postgresql",
        ),
        ("postgresql://h1:5432,h2:5433/team", "postgresql://h1:5432,h2:5433/team"),
    ],
)
def test_libpq_uris_are_postgresql_workspaces(value: str, uri: str) -> None:
    location = parse_workspace_location(value)
    assert location == PostgresLocation(uri)
    assert location.uri == uri  # kept whole (with its password) for the driver


def test_a_postgresql_workspace_is_not_available_yet_and_says_which() -> None:
    location = parse_workspace_location("postgresql://ana:hunter2@db/team")
    with pytest.raises(SharedWorkspaceUnavailableError) as refused:
        local_workspace_path(location)
    message = str(refused.value)
    assert message.startswith("PostgreSQL workspaces are not available in this version yet")
    assert "postgresql://ana:***@db/team" in message
    assert "hunter2" not in message and "hunter2" not in repr(location)
    assert "hunter2" not in str(location)
    assert "\n" not in message  # one line


@pytest.mark.parametrize(
    "value",
    ["ftp://x", "http://x", "https://x/w.pushdeck", "sqlite:///w.pushdeck", "s3://b/k", "a+b://x"],
)
def test_another_scheme_is_refused_naming_the_accepted_forms(value: str) -> None:
    with pytest.raises(WorkspaceLocationError) as refused:
        parse_workspace_location(value)
    message = str(refused.value)
    assert "a workspace file path (e.g. team.pushdeck) or a postgresql:// URI" in message
    assert isinstance(refused.value, ConfigError)
    assert "\n" not in message


def test_a_file_url_is_refused_naming_its_path() -> None:
    with pytest.raises(
        WorkspaceLocationError, match=r"give the path itself \(/srv/my team\.pushdeck\)"
    ):
        parse_workspace_location("file:///srv/my%20team.pushdeck")
    with pytest.raises(WorkspaceLocationError, match="file URL"):
        parse_workspace_location("file:team.pushdeck")


@pytest.mark.parametrize(
    "value", ["host=db dbname=team", "dbname=team", " user = ana password='x y'", "SERVICE=team"]
)
def test_a_libpq_keyword_string_is_refused(value: str) -> None:
    with pytest.raises(WorkspaceLocationError, match="key=value connection string"):
        parse_workspace_location(value)


def test_the_environment_is_used_when_no_value_is_given(tmp_path: Path) -> None:
    env = {"PUSHDECK_WORKSPACE": str(tmp_path / "env.pushdeck")}
    assert resolve_workspace_location(None, env) == SqliteLocation(tmp_path / "env.pushdeck")
    assert resolve_workspace_location("", env) == SqliteLocation(tmp_path / "env.pushdeck")
    given = resolve_workspace_location(str(tmp_path / "given.pushdeck"), env)
    assert given == SqliteLocation(tmp_path / "given.pushdeck")
    default = resolve_workspace_location(None, {})
    assert isinstance(default, SqliteLocation) and default.path.name == "workspace.pushdeck"
    with pytest.raises(WorkspaceLocationError, match=r"^PUSHDECK_WORKSPACE=ftp://x "):
        resolve_workspace_location(None, {"PUSHDECK_WORKSPACE": "ftp://x"})
    with pytest.raises(WorkspaceLocationError, match=r"^--workspace ftp://y "):
        resolve_workspace_location("ftp://y", {"PUSHDECK_WORKSPACE": "ftp://x"})


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://ana:hunter2@db/team", "postgresql://ana:***@db/team"),
        ("postgresql://ana@db/team", "postgresql://ana@db/team"),
        ("postgresql://db:5432/team", "postgresql://db:5432/team"),
        ("postgresql://ana:hun@ter/2@db/team", "postgresql://ana:***@db/team"),
        ("postgresql://ana:a/b?c#d@db/team", "postgresql://ana:***@db/team"),
        (
            "postgresql://ana:p%40ss@db/team?sslmode=require",
            "postgresql://ana:***@db/team?sslmode=require",
        ),
        (
            "postgresql://db/team?user=ana&password=hunter2&x=1",
            "postgresql://db/team?user=ana&password=***&x=1",
        ),
        ("postgresql://db/team?sslpassword=hunter2", "postgresql://db/team?sslpassword=***"),
        ("host=db password=hunter2 dbname=team", "host=db password=*** dbname=team"),
        ("host=db password='hunter 2' dbname=team", "host=db password=*** dbname=team"),
        ("https://ana:hunter2@example.com/x", "https://ana:***@example.com/x"),
        ("team.pushdeck", "team.pushdeck"),
    ],
)
def test_redact_hides_every_password(text: str, shown: str) -> None:
    assert redact(text) == shown
